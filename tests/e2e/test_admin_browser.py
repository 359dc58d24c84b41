"""The admin in headless Chromium against a live server (SPEC §4).

Every page each test loads is checked: no secret value and no raw token in its
HTML, except on the reveal view and the one-time token page.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import Permission

from secretvault import services
from secretvault.models import AuditEvent, Secret, ServiceToken, Workspace

if TYPE_CHECKING:
    from tests.e2e.conftest import AdminBrowser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST = "sk_live_e2e-first-Zq81"
SECOND = "sk_live_e2e-second-Xw52"
RAW_TOKEN = re.compile(r"^svt_[0-9a-f]{16}_[A-Za-z0-9]+$")

OpenSession = Callable[[str, set[str]], "AdminBrowser"]


def api_installed() -> bool:
    try:
        return find_spec("secretvault.api.urls") is not None
    except ModuleNotFoundError:
        return False


def staff(django_user_model: Any, username: str, *codenames: str) -> Any:
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="secretvault", codename__in=codenames)
    )
    return user


def version_row(session: AdminBrowser, number: int) -> str:
    return session.page.locator(f"#version-history tr[data-version='{number}']").inner_text()


def version_cells(session: AdminBrowser, number: int) -> list[str]:
    row = session.page.locator(f"#version-history tr[data-version='{number}'] td")
    return [cell.strip() for cell in row.all_inner_texts()]


def test_secret_lifecycle(admin_browser: OpenSession, superuser: Any) -> None:
    """Log in; create a workspace, an environment and a secret; change it; roll back; reveal."""
    s = admin_browser("root", {FIRST, SECOND})
    page = s.page
    s.login("root")

    s.goto("/admin/secretvault/workspace/add/", "workspace-add")
    page.fill("#id_slug", "shop")
    page.fill("#id_name", "Shop")
    s.click("input[name=_save]", "workspace-added")
    assert "was added successfully" in s.messages()

    s.goto("/admin/secretvault/environment/add/", "environment-add")
    page.select_option("#id_workspace", label="shop")
    page.fill("#id_slug", "prd")
    page.fill("#id_name", "Production")
    s.click("input[name=_save]", "environment-added")
    assert "was added successfully" in s.messages()

    s.goto("/admin/secretvault/secret/add/", "secret-add")
    assert page.locator("textarea#id_value").count() == 1
    page.select_option("#id_workspace", label="shop")
    page.fill("#id_key", "PAYMENT_API_KEY")
    page.fill("#id_value", FIRST)
    page.fill("#id_description", "card processor")
    page.get_by_label("prd").check()
    page.fill("#id_scope", "billing")
    s.click("input[name=_save]", "secret-changelist")
    assert "was added successfully" in s.messages()
    row = page.locator("#result_list tbody tr", has_text="PAYMENT_API_KEY")
    assert "prd" in row.inner_text() and "billing" in row.inner_text()

    s.click("#result_list a:text('PAYMENT_API_KEY')", "secret-change-v1")
    assert "(current)" in version_row(s, 1)
    assert page.locator("#id_value").input_value() == ""
    page.fill("#id_value", SECOND)
    s.click("input[name=_continue]", "secret-change-v2")
    assert "was changed successfully" in s.messages()
    assert "(current)" in version_row(s, 2)
    assert page.locator("#id_value").input_value() == ""

    s.click("#version-history tr[data-version='1'] a.sv-rollback-link", "rollback-confirm")
    assert "writes version 3" in page.inner_text("#content")
    s.click("input[type=submit][value='Yes, roll back']", "secret-change-v3")
    assert "it is now version 3" in s.messages()
    v3 = version_cells(s, 3)
    assert v3[:4] == ["3 (current)", "rollback", "1", "root"]

    s.click("a.sv-reveal-link", "reveal-ask")
    s.click("input[type=submit][value='Reveal the value']", "reveal-shown", may_show={FIRST})
    assert page.inner_text("#sv-secret-value") == FIRST
    s.click("a:text('Done')", "secret-after-reveal")
    s.goto("/admin/secretvault/secret/", "secret-changelist-end")
    s.goto("/admin/secretvault/auditevent/", "audit-events")

    secret = Secret.objects.get(key="PAYMENT_API_KEY")
    assert secret.current_version == 3
    assert list(secret.versions.values_list("version", "action", "source_version")) == [
        (3, "rollback", 1),
        (2, "update", None),
        (1, "create", None),
    ]
    assert services.reveal(secret) == FIRST
    assert AuditEvent.objects.filter(action="secret.reveal", username="root").count() == 1
    assert s.pages_checked >= 15


def test_reveal_needs_the_permission(
    admin_browser: OpenSession,
    workspace: Workspace,
    make_secret: Callable[..., Secret],
    django_user_model: Any,
) -> None:
    secret = make_secret("SMTP_PASSWORD", FIRST)
    change = f"/admin/secretvault/secret/{secret.pk}/change/"
    reveal = f"/admin/secretvault/secret/{secret.pk}/reveal/"
    staff(django_user_model, "revealer", "view_secret", "reveal_secret")
    staff(django_user_model, "viewer", "view_secret", "change_secret")

    allowed = admin_browser("revealer", {FIRST})
    allowed.login("revealer")
    allowed.goto(change, "secret-view")
    allowed.click("a.sv-reveal-link", "reveal-ask")
    allowed.click("input[type=submit][value='Reveal the value']", "reveal-shown", may_show={FIRST})
    assert allowed.page.inner_text("#sv-secret-value") == FIRST

    refused = admin_browser("viewer", {FIRST})
    refused.login("viewer")
    refused.goto(change, "secret-change")
    assert refused.page.locator("a.sv-reveal-link").count() == 0
    assert refused.page.locator("#id_value").input_value() == ""
    assert refused.goto(reveal, "reveal-refused").status == 403

    assert list(AuditEvent.objects.filter(action="secret.reveal").values_list("username", flat=True)) == [
        "revealer"
    ]


def test_staff_without_permissions_sees_none_of_it(
    admin_browser: OpenSession,
    make_secret: Callable[..., Secret],
    make_token: Callable[..., tuple[ServiceToken, str]],
    django_user_model: Any,
) -> None:
    secret = make_secret("SMTP_PASSWORD", FIRST)
    services.set_value(secret, SECOND)
    token, raw = make_token()
    staff(django_user_model, "nobody")

    s = admin_browser("nobody", {FIRST, SECOND, raw})
    s.login("nobody")
    assert "permission to view or edit anything" in s.page.inner_text("#content")
    assert s.page.locator("a[href*='/admin/secretvault/']").count() == 0
    for step, path in (
        ("secrets", "/admin/secretvault/secret/"),
        ("secret", f"/admin/secretvault/secret/{secret.pk}/change/"),
        ("reveal", f"/admin/secretvault/secret/{secret.pk}/reveal/"),
        ("rollback", f"/admin/secretvault/secret/{secret.pk}/rollback/1/"),
        ("tokens", "/admin/secretvault/servicetoken/"),
        ("token", f"/admin/secretvault/servicetoken/{token.pk}/change/"),
        ("audit", "/admin/secretvault/auditevent/"),
    ):
        assert s.goto(path, f"{step}-refused").status == 403, path
    assert secret.versions.count() == 2
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()


def _create_token_in_admin(s: AdminBrowser, workspace: str, name: str) -> str:
    """Add a token through the admin; return the raw token from the one page that shows it."""
    page = s.page
    s.goto("/admin/secretvault/servicetoken/add/", "token-add")
    page.select_option("#id_workspace", label=workspace)
    page.fill("#id_name", name)
    page.fill("#id_scope", "billing")
    page.check("#id_can_write")
    with page.expect_navigation() as navigation:
        page.click("input[name=_save]")
    assert navigation.value is not None
    assert "no-store" in navigation.value.headers["cache-control"]
    raw = page.inner_text("#sv-raw-token").strip()
    assert RAW_TOKEN.match(raw)
    assert "cannot be shown again" in page.inner_text("#content")
    s.forbidden.add(raw)
    s.check("token-shown-once", may_show={raw})
    return raw


def _revoke_in_admin(s: AdminBrowser, token: ServiceToken) -> None:
    page = s.page
    s.goto("/admin/secretvault/servicetoken/", "token-changelist")
    page.check(f"input[name=_selected_action][value='{token.pk}']")
    page.select_option("select[name=action]", "revoke_selected")
    s.click("button[name=index]", "token-revoked")
    assert "Revoked 1 service token." in s.messages()


def test_token_is_shown_once_then_revoked(
    admin_browser: OpenSession, workspace: Workspace, superuser: Any
) -> None:
    s = admin_browser("root", set())
    s.login("root")
    raw = _create_token_in_admin(s, "acme", "billing-svc")
    token = ServiceToken.objects.get(name="billing-svc")
    assert ServiceToken.objects.authenticate(raw) == token

    # Never again: not on reload (a GET after the redirect: no second token), not on the way
    # back, nor on any page that speaks of the token.
    s.page.reload()
    s.check("reload-after-token")
    assert "already shown once" in s.page.inner_text("#content")
    assert s.page.locator("#sv-raw-token").count() == 0
    assert ServiceToken.objects.count() == 1
    s.page.go_back()
    s.check("back-after-token")
    assert ServiceToken.objects.count() == 1
    s.goto("/admin/secretvault/servicetoken/", "token-changelist")
    s.click(f"#result_list a:text('{token.token_id}')", "token-view")
    assert "billing-svc" in s.page.inner_text("#content")
    assert s.page.locator("input[name=_save]").count() == 0
    s.goto(f"/admin/secretvault/servicetoken/{token.pk}/history/", "token-history")
    s.goto("/admin/secretvault/auditevent/", "audit-events")
    s.goto("/admin/", "index-again")

    _revoke_in_admin(s, token)
    assert ServiceToken.objects.authenticate(raw) is None
    token.refresh_from_db()
    assert token.is_revoked
    assert "Revoked" in s.page.locator("#result_list tbody tr", has_text=token.token_id).inner_text()


def _load(base_url: str, workspace: str, raw: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the live server's own http:// URL
        f"{base_url}/api/v1/workspaces/{workspace}/load/", headers={"Authorization": f"Bearer {raw}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


@pytest.mark.skipif(not api_installed(), reason="API not installed (secretvault.api.urls is missing)")
def test_api_rejects_a_token_revoked_in_the_admin(
    admin_browser: OpenSession,
    live_server: Any,
    workspace: Workspace,
    make_secret: Callable[..., Secret],
    superuser: Any,
) -> None:
    make_secret("SMTP_PASSWORD", FIRST)
    s = admin_browser("root", {FIRST})
    s.login("root")
    raw = _create_token_in_admin(s, "acme", "loader")

    status, body = _load(live_server.url, "acme", raw)
    assert status == 200
    assert body["secrets"] == {"SMTP_PASSWORD": FIRST}

    _revoke_in_admin(s, ServiceToken.objects.get(name="loader"))
    status, _ = _load(live_server.url, "acme", raw)
    assert status == 401
