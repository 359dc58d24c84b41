"""The admin (SPEC §4) through the test client: permissions, services, query counts, no values in HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from secretvault import services
from secretvault.models import (
    AuditEvent,
    Environment,
    Secret,
    SecretEnvironment,
    SecretVersion,
    ServiceToken,
    Workspace,
)
from tests.admin_pages import token_form_ticket

VALUE = "hunter2-Zq8-first-value"
NEW_VALUE = "correct-horse-Xw5-second"

pytestmark = pytest.mark.django_db


def url(view: str, *args: Any) -> str:
    return reverse(f"admin:secretvault_{view}", args=args)


def html(response: Any) -> str:
    return response.content.decode()


def assert_no_values(response: Any, *values: str) -> None:
    body = html(response)
    for value in values:
        assert value not in body


def grant(user: Any, *codenames: str) -> Any:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="secretvault", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)  # drop the permission cache


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def staff_client(client: Client, staff_user: Any) -> Client:
    client.force_login(staff_user)
    return client


def secret_form(secret: Secret, **changes: Any) -> dict[str, Any]:
    """The change form's data as a browser would send it back unchanged, plus ``changes``."""
    data: dict[str, Any] = {
        "value": "",
        "expected_version": str(secret.current_version),
        "description": secret.description,
        "token_type": secret.token_type,
        "environments": [str(env.pk) for env in secret.envs.all()],
        "scope": ", ".join(secret.scope),
        "expires_at_0": "",
        "expires_at_1": "",
    }
    if secret.expires_at is not None:
        data["expires_at_0"] = secret.expires_at.strftime("%Y-%m-%d")
        data["expires_at_1"] = secret.expires_at.strftime("%H:%M:%S")
    data.update(changes)
    return data


def test_every_model_is_registered() -> None:
    for model in (Workspace, Environment, Secret, ServiceToken, AuditEvent):
        assert django_admin.site.is_registered(model)


# --------------------------------------------------------------------------
# Secrets: add and change through the services


def test_add_secret_writes_version_one_through_the_service(
    admin_client: Client, workspace: Workspace, dev: Environment, prd: Environment, superuser: Any
) -> None:
    page = admin_client.get(url("secret_add"), {"workspace": str(workspace.pk)})
    assert page.status_code == 200
    assert '<textarea name="value"' in html(page)

    response = admin_client.post(
        url("secret_add"),
        {
            "workspace": str(workspace.pk),
            "key": "DATABASE_URL",
            "value": VALUE,
            "description": "primary db",
            "token_type": "api",
            "environments": [str(prd.pk)],
            "scope": "web, worker web",
            "expires_at_0": "",
            "expires_at_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert_no_values(response, VALUE)
    secret = Secret.objects.get(workspace=workspace, key="DATABASE_URL")
    assert secret.current_version == 1
    assert secret.env_slugs() == ["prd"]
    assert secret.scope == ["web", "worker"]
    assert secret.token_type == "api"
    assert services.reveal(secret) == VALUE
    version = secret.versions.get()
    assert version.action == "create"
    assert version.created_by == superuser
    created = AuditEvent.objects.filter(action="secret.create", key="DATABASE_URL")
    assert created.count() == 1
    assert created.get().username == "root"

    change = admin_client.get(url("secret_change", secret.pk))
    assert change.status_code == 200
    assert_no_values(change, VALUE)
    assert 'id="version-history"' in html(change)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "1NOT_A_NAME"}, "key"),
        ({"scope": "web, bad tag!"}, "scope"),
        ({"value": ""}, "value"),
        ({"value": "nul\x00inside"}, "value"),
        ({"expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "expires_at"),
    ],
)
def test_add_secret_with_bad_input_is_a_form_error_and_writes_nothing(
    admin_client: Client, workspace: Workspace, changes: dict[str, str], field: str
) -> None:
    data = {
        "workspace": str(workspace.pk),
        "key": "TOKEN",
        "value": VALUE,
        "token_type": "",
        "scope": "",
        "expires_at_0": "",
        "expires_at_1": "",
        **changes,
    }
    response = admin_client.post(url("secret_add"), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert_no_values(response, VALUE, "nul\x00inside")
    assert not Secret.objects.exists()
    assert not AuditEvent.objects.filter(action="secret.create").exists()


def test_add_secret_refuses_an_environment_of_another_workspace(
    admin_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    foreign = services.create_environment(other_workspace, slug="dev")
    response = admin_client.post(
        url("secret_add"),
        {
            "workspace": str(workspace.pk),
            "key": "TOKEN",
            "value": VALUE,
            "environments": [str(foreign.pk)],
            "scope": "",
        },
    )
    assert response.status_code == 200
    assert "environments" in response.context["adminform"].form.errors
    assert_no_values(response, VALUE)
    assert not Secret.objects.exists()


def test_add_secret_duplicate_key_is_a_form_error(
    admin_client: Client, workspace: Workspace, make_secret: Callable[..., Secret]
) -> None:
    make_secret("TOKEN", "old")
    response = admin_client.post(
        url("secret_add"), {"workspace": str(workspace.pk), "key": "TOKEN", "value": VALUE, "scope": ""}
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.non_field_errors())
    assert_no_values(response, VALUE)
    assert Secret.objects.count() == 1


def test_change_value_creates_one_version_and_blank_keeps_it(
    admin_client: Client, make_secret: Callable[..., Secret], dev: Environment, superuser: Any
) -> None:
    secret = make_secret("TOKEN", VALUE)

    response = admin_client.post(
        url("secret_change", secret.pk), secret_form(secret, value=NEW_VALUE), follow=True
    )
    assert response.status_code == 200
    assert_no_values(response, VALUE, NEW_VALUE)
    secret.refresh_from_db()
    assert secret.current_version == 2
    assert services.reveal(secret) == NEW_VALUE
    latest = secret.versions.get(version=2)
    assert (latest.action, latest.created_by) == ("update", superuser)
    assert AuditEvent.objects.filter(action="secret.update", version=2, username="root").count() == 1

    # Metadata only, value left blank: no new version, the value is kept.
    response = admin_client.post(
        url("secret_change", secret.pk),
        secret_form(secret, description="rotated", environments=[str(dev.pk)], scope="api"),
    )
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.current_version == 2
    assert (secret.description, secret.env_slugs(), secret.scope) == ("rotated", ["dev"], ["api"])
    assert services.reveal(secret) == NEW_VALUE

    for page in (
        admin_client.get(url("secret_change", secret.pk)),
        admin_client.get(url("secret_history", secret.pk)),
        admin_client.get(url("secret_changelist")),
    ):
        assert page.status_code == 200
        assert_no_values(page, VALUE, NEW_VALUE)


def test_change_expiry_is_stored_to_the_second(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    when = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    response = admin_client.post(
        url("secret_change", secret.pk),
        secret_form(secret, expires_at_0=when.strftime("%Y-%m-%d"), expires_at_1=when.strftime("%H:%M:%S")),
    )
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.expires_at_unix == int(when.timestamp())
    assert secret.current_version == 1


def test_change_with_a_stale_version_is_refused(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    stale = secret_form(secret, value=NEW_VALUE)
    services.set_value(secret, "written-meanwhile")
    response = admin_client.post(url("secret_change", secret.pk), stale)
    assert response.status_code == 200
    assert "changed this secret while you were editing" in html(response)
    assert_no_values(response, NEW_VALUE, "written-meanwhile")
    secret.refresh_from_db()
    assert secret.current_version == 2
    assert services.reveal(secret) == "written-meanwhile"

    # The re-rendered form carries the current version: saving again is deliberate and works.
    form = response.context["adminform"].form
    assert form.data["expected_version"] == "2"
    response = admin_client.post(url("secret_change", secret.pk), {**stale, "expected_version": "2"})
    assert response.status_code == 302
    secret.refresh_from_db()
    assert secret.current_version == 3


def test_change_to_an_overlapping_key_is_a_form_error(
    admin_client: Client, make_secret: Callable[..., Secret], dev: Environment
) -> None:
    make_secret("TOKEN", "a", envs=["dev"])
    other = make_secret("TOKEN", VALUE, envs=[])
    services.create_environment(other.workspace, slug="qa")
    response = admin_client.post(
        url("secret_change", other.pk), secret_form(other, environments=[str(dev.pk)])
    )
    assert response.status_code == 200
    assert "already serves" in html(response)
    assert other.env_slugs() == []


# --------------------------------------------------------------------------
# Secrets: change list


def test_changelist_marks_expired_and_expiring_secrets_and_filters_by_state(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    now = timezone.now()
    make_secret("FOREVER", VALUE)
    soon = make_secret("SOON", VALUE, expires_at=now + dt.timedelta(days=2))
    gone = make_secret("GONE", VALUE, expires_at=now + dt.timedelta(days=60))
    Secret.objects.filter(pk=gone.pk).update(expires_at=now - dt.timedelta(days=1))
    revoked = make_secret("OFF", VALUE)
    services.revoke_secret(revoked)

    page = admin_client.get(url("secret_changelist"))
    body = html(page)
    assert page.status_code == 200
    assert "sv-state-expired" in body and "sv-state-expiring" in body
    assert body.count('alt="True"') == 1  # the revoked column's icon, for OFF only
    assert VALUE not in body

    def keys(**params: str) -> set[str]:
        response = admin_client.get(url("secret_changelist"), params)
        assert response.status_code == 200
        return {secret.key for secret in response.context["cl"].result_list}

    assert keys(state="active") == {"FOREVER", "SOON"}
    assert keys(state="expiring") == {"SOON"}
    assert keys(state="expired") == {"GONE"}
    assert keys(state="revoked") == {"OFF"}
    assert keys(q="SOO") == {"SOON"}
    assert soon.key in keys()


def test_changelist_filters_by_workspace_environment_and_token_type(
    admin_client: Client,
    make_secret: Callable[..., Secret],
    other_workspace: Workspace,
    dev: Environment,
    prd: Environment,
) -> None:
    make_secret("GLOBAL_ONE", VALUE)
    make_secret("DEV_ONE", VALUE, envs=["dev"], token_type="api")
    make_secret("PRD_ONE", VALUE, envs=["prd"], token_type="access")
    make_secret("ELSEWHERE", VALUE, workspace=other_workspace)

    def keys(**params: str) -> set[str]:
        response = admin_client.get(url("secret_changelist"), params)
        assert response.status_code == 200
        return {secret.key for secret in response.context["cl"].result_list}

    assert keys(workspace__id__exact=str(other_workspace.pk)) == {"ELSEWHERE"}
    assert keys(env=str(dev.pk)) == {"DEV_ONE"}
    assert keys(env="global") == {"GLOBAL_ONE", "ELSEWHERE"}
    assert keys(token_type__exact="access") == {"PRD_ONE"}
    assert keys(env="not-a-uuid") == set()


def _bulk_secrets(workspace: Workspace, envs: list[Environment], count: int) -> None:
    """Rows for the change list only (it never reads versions); the services are too slow for 200."""
    secrets = Secret.objects.bulk_create(
        Secret(workspace=workspace, key=f"KEY_{i:04d}", scope=["web"], current_version=1)
        for i in range(count)
    )
    SecretEnvironment.objects.bulk_create(
        SecretEnvironment(secret=secret, environment=env) for secret in secrets for env in envs
    )


def _count_queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def test_secret_changelist_query_count_does_not_grow_with_the_page(
    admin_client: Client,
    workspace: Workspace,
    dev: Environment,
    prd: Environment,
    django_assert_num_queries: Any,
) -> None:
    _bulk_secrets(workspace, [dev, prd], 10)
    baseline = _count_queries(admin_client, url("secret_changelist"))
    _bulk_secrets(workspace, [dev], 190)
    with django_assert_num_queries(baseline):
        response = admin_client.get(url("secret_changelist"))
    assert len(response.context["cl"].result_list) == 100


def test_token_changelist_query_count_does_not_grow_with_the_page(
    admin_client: Client, workspace: Workspace, superuser: Any, django_assert_num_queries: Any
) -> None:
    def tokens(count: int, start: int) -> None:
        ServiceToken.objects.bulk_create(
            ServiceToken(
                workspace=workspace, token_id=f"{i:016x}", digest="0" * 64, name=f"t{i}", created_by=superuser
            )
            for i in range(start, start + count)
        )

    tokens(10, 0)
    baseline = _count_queries(admin_client, url("servicetoken_changelist"))
    tokens(190, 10)
    with django_assert_num_queries(baseline):
        response = admin_client.get(url("servicetoken_changelist"))
    assert len(response.context["cl"].result_list) == 100


# --------------------------------------------------------------------------
# Rollback


def test_rollback_confirms_then_writes_a_new_version(
    admin_client: Client, make_secret: Callable[..., Secret], superuser: Any
) -> None:
    secret = make_secret("TOKEN", VALUE)
    services.set_value(secret, NEW_VALUE)

    change = admin_client.get(url("secret_change", secret.pk))
    assert url("secret_rollback", secret.pk, 1) in html(change)
    assert url("secret_rollback", secret.pk, 2) not in html(change)  # the current one

    confirm = admin_client.get(url("secret_rollback", secret.pk, 1))
    assert confirm.status_code == 200
    assert "writes version 3" in html(confirm)
    assert_no_values(confirm, VALUE, NEW_VALUE)
    secret.refresh_from_db()
    assert secret.current_version == 2  # GET writes nothing

    done = admin_client.post(url("secret_rollback", secret.pk, 1), {"post": "yes"}, follow=True)
    assert done.status_code == 200
    assert "it is now version 3" in html(done)
    assert_no_values(done, VALUE, NEW_VALUE)
    secret.refresh_from_db()
    assert secret.current_version == 3
    version = secret.versions.get(version=3)
    assert (version.action, version.source_version, version.created_by) == ("rollback", 1, superuser)
    assert services.reveal(secret) == VALUE
    assert AuditEvent.objects.filter(action="secret.rollback", version=3, username="root").count() == 1


def test_rollback_to_unknown_or_current_version_writes_nothing(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    for version in (1, 7):
        response = admin_client.post(url("secret_rollback", secret.pk, version), {"post": "yes"})
        assert response.status_code == 302
    assert SecretVersion.objects.filter(secret=secret).count() == 1
    missing = admin_client.get(url("secret_rollback", "00000000-0000-0000-0000-000000000000", 1))
    assert missing.status_code == 302


def test_malformed_urls_and_ids_are_never_a_server_error(
    admin_client: Client, make_secret: Callable[..., Secret], workspace: Workspace
) -> None:
    secret = make_secret("TOKEN", VALUE)
    for path in (
        url("secret_rollback", secret.pk, 10**30),
        url("secret_rollback", "not-a-uuid", 1),
        url("secret_reveal", "not-a-uuid"),
        url("secret_change", "not-a-uuid"),
        url("servicetoken_change", "not-a-uuid"),
        url("secret_changelist") + "?env=not-a-uuid&state=nonsense&workspace__id__exact=x",
    ):
        assert admin_client.get(path).status_code in (200, 302), path
        assert admin_client.post(path, {"post": "yes"}).status_code in (200, 302, 403), path
    for view in ("secret_add", "servicetoken_add", "environment_add"):
        data = {"workspace": "not-a-uuid", "key": "K", "value": VALUE, "name": "n"}
        if view == "servicetoken_add":
            data["_token_form_ticket"] = token_form_ticket(admin_client, str(workspace.pk))
        response = admin_client.post(url(view), data)
        assert response.status_code == 200
        assert "workspace" in response.context["adminform"].form.errors
        assert_no_values(response, VALUE)
    assert secret.versions.count() == 1


def test_rollback_needs_the_rollback_permission(
    client: Client, staff_user: Any, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    services.set_value(secret, NEW_VALUE)
    user = grant(staff_user, "view_secret", "change_secret")
    client.force_login(user)
    change = client.get(url("secret_change", secret.pk))
    assert change.status_code == 200
    assert "sv-rollback-link" not in html(change)
    assert client.get(url("secret_rollback", secret.pk, 1)).status_code == 403
    assert client.post(url("secret_rollback", secret.pk, 1), {"post": "yes"}).status_code == 403
    secret.refresh_from_db()
    assert secret.current_version == 2

    user = grant(user, "rollback_secret")
    client.force_login(user)
    assert "sv-rollback-link" in html(client.get(url("secret_change", secret.pk)))
    assert client.post(url("secret_rollback", secret.pk, 1), {"post": "yes"}).status_code == 302
    secret.refresh_from_db()
    assert secret.current_version == 3


# --------------------------------------------------------------------------
# Reveal


def test_reveal_shows_the_value_audited_and_never_cached(
    client: Client, staff_user: Any, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    client.force_login(grant(staff_user, "view_secret", "reveal_secret"))

    change = client.get(url("secret_change", secret.pk))
    assert change.status_code == 200
    assert url("secret_reveal", secret.pk) in html(change)
    assert_no_values(change, VALUE)

    ask = client.get(url("secret_reveal", secret.pk))
    assert ask.status_code == 200
    assert_no_values(ask, VALUE)
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()

    shown = client.post(url("secret_reveal", secret.pk), {"post": "yes"})
    assert shown.status_code == 200
    assert VALUE in html(shown)
    assert "no-store" in shown["Cache-Control"]
    event = AuditEvent.objects.get(action="secret.reveal")
    assert (event.key, event.version, event.username) == ("TOKEN", 1, "staff")


def test_reveal_is_refused_without_the_permission(
    client: Client, staff_user: Any, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", VALUE)
    client.force_login(grant(staff_user, "view_secret", "change_secret"))
    change = client.get(url("secret_change", secret.pk))
    assert change.status_code == 200
    assert url("secret_reveal", secret.pk) not in html(change)
    for response in (
        client.get(url("secret_reveal", secret.pk)),
        client.post(url("secret_reveal", secret.pk), {"post": "yes"}),
    ):
        assert response.status_code == 403
        assert_no_values(response, VALUE)
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()


# --------------------------------------------------------------------------
# Actions


def test_revoke_and_restore_actions_go_through_the_services(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    first = make_secret("ONE", VALUE)
    second = make_secret("TWO", VALUE)
    services.revoke_secret(second)

    response = admin_client.post(
        url("secret_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )
    body = html(response)
    assert "Revoked 1 secret." in body and "1 was already revoked." in body
    assert set(Secret.objects.revoked().values_list("key", flat=True)) == {"ONE", "TWO"}
    assert AuditEvent.objects.filter(action="secret.revoke", key="ONE", username="root").count() == 1

    response = admin_client.post(
        url("secret_changelist"),
        {"action": "restore_selected", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )
    assert "Restored 2 secrets." in html(response)
    assert not Secret.objects.revoked().exists()

    # Under a state filter the revoked rows leave the queryset: the counts must not go wrong.
    response = admin_client.post(
        url("secret_changelist") + "?state=active",
        {"action": "revoke_selected", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert "Revoked 1 secret." in html(response)
    assert "already revoked" not in html(response)


def test_secret_actions_need_the_change_permission(
    client: Client, staff_user: Any, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("ONE", VALUE)
    client.force_login(grant(staff_user, "view_secret"))
    page = client.get(url("secret_changelist"))
    assert page.status_code == 200
    assert "revoke_selected" not in html(page)
    client.post(url("secret_changelist"), {"action": "revoke_selected", "_selected_action": [str(secret.pk)]})
    secret.refresh_from_db()
    assert not secret.is_revoked


def test_delete_secret_goes_through_the_service(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("ONE", VALUE)
    confirm = admin_client.get(url("secret_delete", secret.pk))
    assert confirm.status_code == 200
    assert_no_values(confirm, VALUE)
    assert admin_client.post(url("secret_delete", secret.pk), {"post": "yes"}).status_code == 302
    assert not Secret.objects.exists()
    assert AuditEvent.objects.filter(action="secret.delete", key="ONE", username="root").count() == 1


# --------------------------------------------------------------------------
# Service tokens


def test_tokens_cannot_be_edited_or_deleted_and_revoked_stay_revoked(
    admin_client: Client, make_token: Callable[..., tuple[ServiceToken, str]]
) -> None:
    token, raw = make_token()
    services.revoke_token(token)
    page = admin_client.get(url("servicetoken_change", token.pk))
    assert page.status_code == 200
    assert raw not in html(page)
    assert 'name="_save"' not in html(page)
    response = admin_client.post(url("servicetoken_change", token.pk), {"name": "revived", "revoked_at": ""})
    assert response.status_code == 403
    assert admin_client.post(url("servicetoken_delete", token.pk), {"post": "yes"}).status_code == 403
    token.refresh_from_db()
    assert token.is_revoked and token.name == "test token"


def test_revoke_tokens_action_needs_its_permission(
    client: Client, staff_user: Any, make_token: Callable[..., tuple[ServiceToken, str]]
) -> None:
    first, raw = make_token(name="one")
    second, _ = make_token(name="two")
    user = grant(staff_user, "view_servicetoken")
    client.force_login(user)
    assert "revoke_selected" not in html(client.get(url("servicetoken_changelist")))
    client.post(
        url("servicetoken_changelist"), {"action": "revoke_selected", "_selected_action": [str(first.pk)]}
    )
    assert ServiceToken.objects.authenticate(raw) == first

    client.force_login(grant(user, "revoke_servicetoken"))
    response = client.post(
        url("servicetoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )
    assert "Revoked 2 service tokens." in html(response)
    assert ServiceToken.objects.authenticate(raw) is None
    assert AuditEvent.objects.filter(action="token.revoke", username="staff").count() == 2


# --------------------------------------------------------------------------
# Audit events, workspaces, environments


def test_audit_events_are_read_only_for_superusers_too(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    make_secret("TOKEN", VALUE)
    event = AuditEvent.objects.get(action="secret.create")
    listing = admin_client.get(url("auditevent_changelist"))
    assert listing.status_code == 200
    assert "delete_selected" not in html(listing)
    assert_no_values(listing, VALUE)
    assert admin_client.get(url("auditevent_changelist"), {"q": "TOKEN"}).context["cl"].result_count == 1
    assert (
        admin_client.get(url("auditevent_changelist"), {"action__exact": "secret.create"}).status_code == 200
    )
    assert admin_client.get(url("auditevent_add")).status_code == 403
    view = admin_client.get(url("auditevent_change", event.pk))
    assert view.status_code == 200
    assert 'name="_save"' not in html(view)
    assert admin_client.post(url("auditevent_change", event.pk), {"action": "x"}).status_code == 403
    assert admin_client.post(url("auditevent_delete", event.pk), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action="secret.create").exists()


def test_add_workspace_goes_through_the_service(admin_client: Client) -> None:
    response = admin_client.post(url("workspace_add"), {"slug": "initech", "name": "Initech"})
    assert response.status_code == 302
    workspace = Workspace.objects.get(slug="initech")
    assert workspace.wrapped_data_key
    assert AuditEvent.objects.filter(action="workspace.create", workspace=workspace, username="root").exists()

    for data in ({"slug": "initech", "name": "again"}, {"slug": "Not A Slug", "name": ""}):
        response = admin_client.post(url("workspace_add"), data)
        assert response.status_code == 200
        assert "slug" in response.context["adminform"].form.errors
    assert Workspace.objects.count() == 1


def test_environment_add_rename_and_protected_delete(
    admin_client: Client, workspace: Workspace, make_secret: Callable[..., Secret]
) -> None:
    response = admin_client.post(
        url("environment_add"), {"workspace": str(workspace.pk), "slug": "stage", "name": "Staging"}
    )
    assert response.status_code == 302
    env = Environment.objects.get(slug="stage")
    assert AuditEvent.objects.filter(action="environment.create", username="root").exists()

    duplicate = admin_client.post(url("environment_add"), {"workspace": str(workspace.pk), "slug": "stage"})
    assert duplicate.status_code == 200
    assert "slug" in duplicate.context["adminform"].form.errors

    response = admin_client.post(url("environment_change", env.pk), {"slug": "staging", "name": "Staging"})
    assert response.status_code == 302
    env.refresh_from_db()
    assert env.slug == "staging"

    make_secret("TOKEN", VALUE, envs=["staging"])
    confirm = admin_client.get(url("environment_delete", env.pk))
    assert confirm.status_code == 200
    assert "Secret TOKEN in acme (environments: staging)" in html(confirm)
    assert admin_client.post(url("environment_delete", env.pk), {"post": "yes"}).status_code == 200
    assert Environment.objects.filter(pk=env.pk).exists()

    spare = services.create_environment(workspace, slug="spare")
    assert admin_client.post(url("environment_delete", spare.pk), {"post": "yes"}).status_code == 302
    assert not Environment.objects.filter(pk=spare.pk).exists()
    assert AuditEvent.objects.filter(action="environment.delete", username="root").exists()


def test_workspace_delete_is_protected_while_it_holds_secrets(
    admin_client: Client, workspace: Workspace, make_secret: Callable[..., Secret]
) -> None:
    make_secret("TOKEN", VALUE)
    confirm = admin_client.get(url("workspace_delete", workspace.pk))
    assert confirm.status_code == 200
    assert "Secret TOKEN in acme" in html(confirm)
    assert admin_client.post(url("workspace_delete", workspace.pk), {"post": "yes"}).status_code == 200
    assert Workspace.objects.filter(pk=workspace.pk).exists()


# --------------------------------------------------------------------------
# A staff user without permissions


def test_staff_without_permissions_sees_none_of_it(
    staff_client: Client,
    make_secret: Callable[..., Secret],
    make_token: Callable[..., tuple[ServiceToken, str]],
) -> None:
    secret = make_secret("TOKEN", VALUE)
    services.set_value(secret, NEW_VALUE)
    token, raw = make_token()
    index = staff_client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "secretvault" not in html(index).lower()
    for path in (
        url("secret_changelist"),
        url("secret_add"),
        url("secret_change", secret.pk),
        url("secret_reveal", secret.pk),
        url("secret_rollback", secret.pk, 1),
        url("servicetoken_changelist"),
        url("servicetoken_change", token.pk),
        url("auditevent_changelist"),
        url("workspace_changelist"),
        url("environment_changelist"),
    ):
        response = staff_client.get(path)
        assert response.status_code == 403, path
        assert_no_values(response, VALUE, NEW_VALUE, raw)
    assert staff_client.post(url("secret_reveal", secret.pk), {"post": "yes"}).status_code == 403
    assert staff_client.post(url("secret_rollback", secret.pk, 1), {"post": "yes"}).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["secret.reveal", "secret.rollback"]).exists()
