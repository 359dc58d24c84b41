"""Values through the admin in a real browser (SPEC §8, issue #11.1): multi-line and empty.

Chromium submits a textarea's line breaks as CRLF; the stored value must be
what was typed, byte for byte, and must never appear in a page but the reveal view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from secretvault import services
from secretvault.models import Secret, ServiceToken, Workspace

if TYPE_CHECKING:
    from tests.e2e.conftest import AdminBrowser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3e2e\n"
    "\tindented, trailing blanks   \n"
    "-----END PRIVATE KEY-----\n"
)
SECRET_LINE = "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3e2e"

OpenSession = Callable[[str, set[str]], "AdminBrowser"]


def test_multi_line_and_empty_values_round_trip(
    admin_browser: OpenSession, workspace: Workspace, superuser: Any
) -> None:
    s = admin_browser("root", {SECRET_LINE})
    page = s.page
    s.login("root")

    s.goto("/admin/secretvault/secret/add/", "secret-add")
    assert page.locator("textarea#id_value").get_attribute("autocomplete") == "off"
    page.select_option("#id_workspace", label="acme")
    page.fill("#id_key", "TLS_KEY")
    page.fill("#id_value", PEM)
    s.screenshot("secret-add-typed")
    s.click("input[name=_save]", "secret-added")
    assert "was added successfully" in s.messages()
    secret = Secret.objects.get(key="TLS_KEY")
    assert services.reveal(secret).encode() == PEM.encode()

    # A blank value is refused on add unless the empty string is asked for.
    s.goto("/admin/secretvault/secret/add/", "secret-add-empty")
    page.select_option("#id_workspace", label="acme")
    page.fill("#id_key", "EMPTY_ONE")
    s.click("input[name=_save]", "secret-add-empty-refused")
    assert "Store the empty string" in page.inner_text(".errorlist")
    assert not Secret.objects.filter(key="EMPTY_ONE").exists()
    page.check("#id_store_empty")
    s.click("input[name=_save]", "secret-added-empty")
    assert "was added successfully" in s.messages()
    assert services.reveal(Secret.objects.get(key="EMPTY_ONE")) == ""

    # Change the PEM to the empty string: a new version; then reveal in the browser.
    s.goto(f"/admin/secretvault/secret/{secret.pk}/change/", "secret-change")
    assert page.locator("#id_value").input_value() == ""
    page.check("#id_store_empty")
    s.click("input[name=_continue]", "secret-changed-empty")
    secret.refresh_from_db()
    assert (secret.current_version, services.reveal(secret)) == (2, "")

    s.click("#version-history tr[data-version='1'] a.sv-rollback-link", "rollback-confirm")
    s.click("input[type=submit][value='Yes, roll back']", "rolled-back")
    s.click("a.sv-reveal-link", "reveal-ask")
    s.click("input[type=submit][value='Reveal the value']", "reveal-shown", may_show={SECRET_LINE})
    # The <pre> shows the value as stored: the DOM text equals the PEM exactly.
    shown = page.locator("#sv-secret-value").evaluate("element => element.textContent")
    assert shown == PEM


def test_environment_choices_follow_the_chosen_workspace(
    admin_browser: OpenSession, workspace: Workspace, other_workspace: Workspace, superuser: Any
) -> None:
    """Adding a secret or a token: choose the workspace, then only its environments are offered."""
    services.create_environment(workspace, slug="prd")
    services.create_environment(other_workspace, slug="prd")
    services.create_environment(other_workspace, slug="qa")
    s = admin_browser("root", set())
    page = s.page
    s.login("root")

    for model in ("secret", "servicetoken"):
        s.goto(f"/admin/secretvault/{model}/add/", f"{model}-choose-workspace")
        assert page.locator("input[name=environments]").count() == 0
        page.select_option("#sv-workspace", value=str(other_workspace.pk))
        s.click("#sv-choose-workspace input[type=submit]", f"{model}-add-globex")
        labels = sorted(t.strip() for t in page.locator("#id_environments label").all_inner_texts())
        assert labels == ["prd", "qa"]
        assert page.locator("#id_workspace option").all_inner_texts() == ["globex"]
        if model == "secret":
            page.fill("#id_key", "QA_ONLY")
            page.fill("#id_value", "v")
        else:
            page.fill("#id_name", "qa-reader")
        page.get_by_label("qa").check()
        s.click("input[name=_save]", f"{model}-saved")

    secret = Secret.objects.get(key="QA_ONLY")
    assert (secret.workspace.slug, secret.env_slugs()) == ("globex", ["qa"])
    token = ServiceToken.objects.get(name="qa-reader")
    assert (token.workspace.slug, token.env_slugs()) == ("globex", ["qa"])
