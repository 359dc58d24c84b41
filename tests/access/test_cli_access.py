"""The command line asks the same reach rule: ``--actor`` and ``member add|list|remove``."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from secretvault.models import AuditEvent, WorkspaceMember
from tests.test_command import cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(workspace, other_workspace, dev, prd, django_user_model, make_secret):
    make_secret("DEV_KEY", "dev-value", envs=["dev"])
    make_secret("PRD_KEY", "prd-value", envs=["prd"])
    make_secret("OTHER", "other-value", workspace=other_workspace)
    admin = django_user_model.objects.create_user("ada", password="pw")
    devone = django_user_model.objects.create_user("devone", password="pw")
    django_user_model.objects.create_user("bob", password="pw")
    Group.objects.create(name="ops")
    WorkspaceMember.objects.create(workspace=workspace, user=admin, role="admin")
    WorkspaceMember.objects.create(workspace=workspace, user=devone, role="developer").envs.set([dev])


def test_member_add_list_remove(cli, people):  # noqa: F811
    added = cli("member", "add", "-w", "acme", "--user", "bob", "--role", "developer", "--env", "dev")
    assert added.code == 0, added.err
    assert "user:bob" in added.out and "developer" in added.out
    assert cli("member", "add", "-w", "acme", "--group", "ops", "--role", "viewer").code == 0
    listed = json.loads(cli("member", "list", "-w", "acme", "--json").out)
    assert {(m["user"], m["group"], m["role"]) for m in listed} >= {
        ("bob", None, "developer"),
        (None, "ops", "viewer"),
    }
    assert [m["envs"] for m in listed if m["user"] == "bob"] == [["dev"]]
    assert cli("member", "remove", "-w", "acme", "--user", "bob").code == 0
    assert not WorkspaceMember.objects.filter(user__username="bob").exists()
    assert cli("member", "remove", "-w", "acme", "--user", "bob").code == 1
    actions = set(AuditEvent.objects.filter(action__startswith="member.").values_list("action", flat=True))
    assert actions == {"member.add", "member.remove"}


def test_member_add_bad_input(cli, people):  # noqa: F811
    assert cli("member", "add", "-w", "acme", "--user", "nobody", "--role", "viewer").code == 1
    assert cli("member", "add", "-w", "acme", "--user", "bob", "--role", "owner").code == 2
    result = cli("member", "add", "-w", "acme", "--user", "bob", "--role", "admin", "--env", "dev")
    assert result.code == 1 and "admin" in result.err
    assert cli("member", "add", "-w", "acme", "--user", "bob", "--group", "ops", "--role", "viewer").code == 2


def test_actor_is_checked_against_their_reach(cli, people):  # noqa: F811
    as_dev = ("--actor", "devone")
    assert cli("reveal", "DEV_KEY", "-w", "acme", *as_dev).out.strip() == "dev-value"
    hidden = cli("reveal", "PRD_KEY", "-w", "acme", *as_dev)
    missing = cli("reveal", "NO_SUCH", "-w", "acme", *as_dev)
    assert hidden.code == missing.code == 1 and "prd-value" not in hidden.out + hidden.err
    assert hidden.err.replace("PRD_KEY", "X") == missing.err.replace("NO_SUCH", "X")
    other = cli("reveal", "OTHER", "-w", "globex", *as_dev)
    unknown = cli("reveal", "OTHER", "-w", "nope", *as_dev)
    assert other.err.replace("globex", "X") == unknown.err.replace("nope", "X")
    assert cli("set", "NEW", "v", "-w", "acme", "--env", "prd", *as_dev).code == 1
    assert cli("set", "NEW", "v", "-w", "acme", "--env", "dev", *as_dev).code == 0
    # A developer grants no roles; an admin grants up to admin.
    assert cli("member", "add", "-w", "acme", "--user", "bob", "--role", "viewer", *as_dev).code == 1
    assert cli("member", "add", "-w", "acme", "--user", "bob", "--role", "admin", "--actor", "ada").code == 0
    assert cli("token", "create", "-w", "acme", "--name", "t", *as_dev).code == 1
    created = cli("token", "create", "-w", "acme", "--name", "t", "--env", "dev", "--write", "--actor", "ada")
    assert created.code == 0
