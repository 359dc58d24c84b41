"""The members routes of SPEC §9: shape, no escalation, audit, and the workspace creator."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from secretvault.models import AuditEvent, Workspace, WorkspaceMember
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

MEMBERS = ws_url("acme", "members")


def test_admin_manages_members(workspace, dev, prd, member, django_user_model):
    admin_user, admin = member("admin")
    django_user_model.objects.create_user("alice", password="pw")
    Group.objects.create(name="ops")
    created = admin.post(MEMBERS, {"user": "alice", "role": "developer", "envs": ["dev"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"id", "user", "group", "role", "envs", "created_at", "created_by"}
    assert (body["user"], body["group"], body["role"], body["envs"]) == ("alice", None, "developer", ["dev"])
    assert body["created_by"] == admin_user.username
    group = admin.post(MEMBERS, {"group": "ops", "role": "viewer"})
    assert group.status_code == 201 and group.json()["group"] == "ops"
    assert admin.post(MEMBERS, {"user": "alice", "role": "viewer"}).status_code == 409
    listed = admin.get(MEMBERS).json()
    assert listed["count"] == 3
    one = ws_url("acme", "members", body["id"])
    assert admin.get(one).json()["role"] == "developer"
    changed = admin.patch(one, {"role": "viewer", "envs": ["dev", "prd"]})
    assert changed.status_code == 200 and changed.json()["envs"] == ["dev", "prd"]
    assert admin.delete(one).status_code == 204
    assert admin.get(one).status_code == 404
    actions = list(AuditEvent.objects.filter(action__startswith="member.").values_list("action", "username"))
    assert ("member.add", admin_user.username) in actions
    assert ("member.change", admin_user.username) in actions
    assert ("member.remove", admin_user.username) in actions
    detail = AuditEvent.objects.filter(action="member.change").get().detail
    assert detail == {"member": "user:alice", "role": "viewer", "envs": ["dev", "prd"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "viewer"}, "non_field_errors"),
        ({"user": "alice", "group": "ops", "role": "viewer"}, "non_field_errors"),
        ({"user": "nobody-here", "role": "viewer"}, "user"),
        ({"user": "alice", "role": "owner"}, "role"),
        ({"user": "alice", "role": "admin", "envs": ["dev"]}, "envs"),
        ({"user": "alice", "role": "viewer", "envs": ["nope"]}, "envs"),
        ({"user": "alice", "role": "viewer", "id": "x"}, "id"),
    ],
)
def test_bad_member_input_is_400(workspace, dev, member, django_user_model, body, field):
    django_user_model.objects.create_user("alice", password="pw")
    Group.objects.create(name="ops")
    _user, admin = member("admin")
    response = admin.post(MEMBERS, body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert WorkspaceMember.objects.count() == 1


def test_no_escalation_through_member_assignment(workspace, dev, prd, person, member, django_user_model):
    django_user_model.objects.create_user("alice", password="pw")
    # Global member management and viewing, but no value access: may grant viewer only.
    _user, manager = person("add_workspacemember", "view_workspace", "view_environment", "view_secret")
    assert manager.post(MEMBERS, {"user": "alice", "role": "developer"}).status_code == 403
    assert manager.post(MEMBERS, {"user": "alice", "role": "admin"}).status_code == 403
    assert manager.post(MEMBERS, {"user": "alice", "role": "viewer"}).status_code == 201
    # A developer manages no members at all.
    _user, developer = member("developer")
    assert developer.get(MEMBERS).status_code == 403
    assert developer.post(MEMBERS, {"user": "alice", "role": "viewer"}).status_code == 403


def test_members_of_another_workspace_are_404(workspace, other_workspace, member):
    _user, admin = member("admin", workspace="globex")
    other = WorkspaceMember.objects.get(workspace=other_workspace)
    assert admin.get(MEMBERS).status_code == 404
    assert admin.get(ws_url("acme", "members", str(other.pk))).status_code == 404
    assert admin.get(ws_url("globex", "members", "not-a-uuid")).status_code == 404


def test_tokens_cannot_manage_members(workspace, token_client):
    _token, client = token_client(can_write=True)
    assert client.get(MEMBERS).status_code == 403
    assert client.post(MEMBERS, {"user": "x", "role": "viewer"}).status_code == 403


def test_workspace_creator_without_change_workspace_becomes_its_admin(db, person, su):
    user, creator = person("add_workspace")
    assert creator.post("/api/v1/workspaces/", {"slug": "team-a"}).status_code == 201
    membership = WorkspaceMember.objects.get(workspace__slug="team-a")
    assert (membership.user, membership.role) == (user, "admin")
    assert creator.get(ws_url("team-a", "members")).json()["count"] == 1
    assert creator.get("/api/v1/workspaces/").json()["count"] == 1
    assert su.post("/api/v1/workspaces/", {"slug": "team-b"}).status_code == 201
    assert not WorkspaceMember.objects.filter(workspace__slug="team-b").exists()
    assert Workspace.objects.count() == 2
