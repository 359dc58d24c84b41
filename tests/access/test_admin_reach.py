"""The admin by reach (SPEC §9): lists, filters, choices and custom views of a member."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.models import Secret, ServiceToken, WorkspaceMember

pytestmark = pytest.mark.django_db


def url(view: str, *args: Any) -> str:
    return reverse(f"admin:secretvault_{view}", args=args)


@pytest.fixture
def teams(workspace, other_workspace, dev, prd, make_secret):
    services.create_environment(other_workspace, slug="dev")
    return {
        "global": make_secret("SHARED", "shared-value"),
        "dev": make_secret("DEV_KEY", "dev-value", envs=["dev"]),
        "prd": make_secret("PRD_KEY", "prd-value", envs=["prd"]),
        "other": make_secret("OTHER_KEY", "other-team-value", workspace=other_workspace),
    }


@pytest.fixture
def dev_developer(client: Client, django_user_model, workspace, dev) -> Client:
    user = django_user_model.objects.create_user("devone", password="pw", is_staff=True)
    row = WorkspaceMember.objects.create(workspace=workspace, user=user, role="developer")
    row.envs.set([dev])
    client.force_login(user)
    return client


def test_member_sees_only_what_they_reach(teams, dev_developer):
    page = dev_developer.get(url("secret_changelist")).content.decode()
    assert "DEV_KEY" in page and "SHARED" in page
    assert "PRD_KEY" not in page and "OTHER_KEY" not in page and "globex" not in page
    workspaces = dev_developer.get(url("workspace_changelist")).content.decode()
    assert "acme" in workspaces and "globex" not in workspaces
    envs = dev_developer.get(url("environment_changelist")).content.decode()
    assert ">dev<" in envs and ">prd<" not in envs


def test_the_workspace_list_counts_only_what_the_member_reaches(teams, dev_developer, workspace):
    services.create_token(workspace, name="ci")
    page = dev_developer.get(url("workspace_changelist")).content.decode()
    # SHARED and DEV_KEY of three secrets; none of the token (developers do not see tokens).
    assert '<td class="field-secret_count">2</td>' in page, page
    assert '<td class="field-token_count">0</td>' in page
    assert '<td class="field-environment_list">dev</td>' in page


def test_a_global_secret_from_an_env_restricted_developer_is_refused_naming_their_envs(
    teams, dev_developer, workspace
):
    data = {"workspace": str(workspace.pk), "key": "NEW_GLOBAL", "value": "v", "scope": ""}
    page = dev_developer.post(url("secret_add") + f"?workspace={workspace.pk}", data).content.decode()
    assert "not a global secret: give it one or more of dev." in page
    assert "&#x27;envs&#x27;" not in page  # the API's field name means nothing on this form
    assert not Secret.objects.filter(key="NEW_GLOBAL").exists()


def test_an_env_restricted_developer_is_not_told_that_none_means_global(
    teams, dev_developer, superuser, workspace
):
    """The add form's help says "none = global" to those who may write a global secret only."""
    restricted = dev_developer.get(url("secret_add") + f"?workspace={workspace.pk}").content.decode()
    assert "you can write only in these environments" in restricted and "none = global" not in restricted
    dev_developer.force_login(superuser)
    unrestricted = dev_developer.get(url("secret_add") + f"?workspace={workspace.pk}").content.decode()
    assert "none = global" in unrestricted and "you can write only in these" not in unrestricted


def test_invisible_secret_pages_answer_like_missing_ones(teams, dev_developer):
    for secret in (teams["prd"], teams["other"]):
        for view in ("secret_change", "secret_reveal"):
            response = dev_developer.get(url(view, secret.pk))
            assert response.status_code in (302, 404), (view, response.status_code)
            assert "prd-value" not in response.content.decode()
    assert dev_developer.post(url("secret_reveal", teams["prd"].pk)).status_code in (302, 404)


def test_member_reveals_within_reach(teams, dev_developer):
    response = dev_developer.post(url("secret_reveal", teams["dev"].pk))
    assert response.status_code == 200 and "dev-value" in response.content.decode()


def test_env_restricted_developer_cannot_widen_envs(teams, dev_developer, prd, dev):
    secret = teams["dev"]
    data = {
        "value": "",
        "expected_version": "1",
        "description": "",
        "token_type": "",
        "environments": [str(dev.pk), str(prd.pk)],
        "scope": "",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    response = dev_developer.post(url("secret_change", secret.pk), data)
    assert response.status_code == 200  # the form again, with an error
    assert Secret.objects.get(pk=secret.pk).env_slugs() == ["dev"]
    form = dev_developer.get(url("secret_change", secret.pk)).content.decode()
    assert f'value="{prd.pk}"' not in form  # prd is not even offered


def test_viewer_cannot_reveal_or_roll_back(teams, client, django_user_model, workspace):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    WorkspaceMember.objects.create(workspace=workspace, user=user, role="viewer")
    client.force_login(user)
    assert client.get(url("secret_change", teams["dev"].pk)).status_code == 200
    assert client.post(url("secret_reveal", teams["dev"].pk)).status_code == 403


def test_rollback_needs_change_and_rollback_in_the_admin_too(teams, client, staff_user):
    """Issue #10 finding 7: view_secret + rollback_secret no longer suffice."""
    secret = teams["global"]
    services.set_value(secret, "second")
    staff_user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_secret", "rollback_secret"])
    )
    client.force_login(staff_user)
    assert client.post(url("secret_rollback", secret.pk, 1)).status_code == 403
    assert Secret.objects.get(pk=secret.pk).current_version == 2


def test_token_form_refuses_a_token_beyond_the_creator(teams, client, staff_user, workspace):
    """Issue #10 finding 1 in the admin: add_servicetoken alone mints nothing."""
    staff_user.user_permissions.add(Permission.objects.get(codename="add_servicetoken"))
    client.force_login(staff_user)
    from tests.admin_pages import token_form_ticket

    data = {"workspace": str(workspace.pk), "name": "x", "description": "", "scope": "", "can_write": "on"}
    data["_token_form_ticket"] = token_form_ticket(client, str(workspace.pk))
    response = client.post(url("servicetoken_add"), data)
    assert response.status_code == 200 and not ServiceToken.objects.exists()


def test_workspace_page_lists_its_members(teams, client, superuser, workspace, staff_user):
    WorkspaceMember.objects.create(workspace=workspace, user=staff_user, role="viewer")
    client.force_login(superuser)
    page = client.get(url("workspace_change", workspace.pk)).content.decode()
    assert "user:staff" in page


def test_member_admin_adds_through_the_service(teams, client, superuser, workspace, staff_user, dev):
    client.force_login(superuser)
    data = {"workspace": str(workspace.pk), "user": staff_user.username, "role": "developer"}
    data["environments"] = [str(dev.pk)]
    response = client.post(url("workspacemember_add") + f"?workspace={workspace.pk}", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    member = WorkspaceMember.objects.get()
    assert member.env_slugs() == ["dev"] and member.created_by == superuser
    from secretvault.models import AuditEvent

    assert AuditEvent.objects.filter(action="member.add").exists()


def test_member_form_takes_a_username_and_lists_no_accounts(teams, client, superuser, workspace, staff_user):
    """A workspace admin is not shown every account of the site: the user is typed, by username."""
    client.force_login(superuser)
    page = client.get(url("workspacemember_add") + f"?workspace={workspace.pk}").content.decode()
    assert 'name="user"' in page and "<option" not in page.split('name="user"')[1].split(">")[0]
    assert f">{staff_user.username}<" not in page
    data = {"workspace": str(workspace.pk), "user": "no-such-person", "role": "viewer"}
    response = client.post(url("workspacemember_add") + f"?workspace={workspace.pk}", data)
    assert response.status_code == 200 and "There is no user with that username." in response.content.decode()
    data["user"] = ""
    data["group"] = "no-such-group"
    response = client.post(url("workspacemember_add") + f"?workspace={workspace.pk}", data)
    assert "There is no group with that name." in response.content.decode()
    assert not WorkspaceMember.objects.exists()
