"""Breaker findings at the command line's ``--actor``: nothing out of reach is read or told.

``import --dry-run`` compared the file's values with secrets the actor cannot reveal (an
oracle on values: "unchanged" means "you guessed it"), and ``set`` answered a secret out
of the actor's sight differently from a missing one (SPEC §9: one reach rule, an invisible
secret changes no answer).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from secretvault.models import SecretVersion, WorkspaceMember
from tests.test_command import cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(workspace, dev, prd, django_user_model, make_secret):
    make_secret("PRD_KEY", "prd-value", envs=["prd"])
    make_secret("DEV_KEY", "dev-value", envs=["dev"])
    devone = django_user_model.objects.create_user("devone", password="pw")
    viewer = django_user_model.objects.create_user("viewer", password="pw")
    WorkspaceMember.objects.create(workspace=workspace, user=devone, role="developer").envs.set([dev])
    team = Group.objects.create(name="readers")
    viewer.groups.add(team)
    WorkspaceMember.objects.create(workspace=workspace, group=team, role="viewer")


@pytest.mark.parametrize("actor", ["devone", "viewer"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_import_tells_nothing_about_values_out_of_reach(cli, people, tmp_path, actor, dry_run):  # noqa: F811
    right, wrong = tmp_path / "right.env", tmp_path / "wrong.env"
    right.write_text("PRD_KEY=prd-value\n")
    wrong.write_text("PRD_KEY=a-guess\n")
    flags = ["--dry-run"] if dry_run else []
    answers = [
        cli("import", str(path), "-w", "acme", "--env", "prd", "--actor", actor, *flags)
        for path in (right, wrong)
    ]
    assert [a.code for a in answers] == [1, 1], [a.out + a.err for a in answers]
    assert answers[0].out + answers[0].err == answers[1].out + answers[1].err
    assert "unchanged" not in answers[0].out
    assert SecretVersion.objects.filter(secret__key="PRD_KEY").count() == 1


def test_import_within_reach_still_works(cli, people, tmp_path):  # noqa: F811
    path = tmp_path / "dev.env"
    path.write_text("DEV_KEY=dev-value\nNEW_KEY=new\n")
    dry = cli("import", str(path), "-w", "acme", "--env", "dev", "--actor", "devone", "--dry-run")
    assert dry.code == 0, dry.err
    assert "1 created, 0 updated, 1 unchanged" in dry.out
    done = cli("import", str(path), "-w", "acme", "--env", "dev", "--actor", "devone")
    assert done.code == 0, done.err


def test_import_of_a_global_secret_needs_every_environment(cli, people, tmp_path):  # noqa: F811
    path = tmp_path / "g.env"
    path.write_text("GLOBAL_KEY=x\n")
    refused = cli("import", str(path), "-w", "acme", "--actor", "devone", "--dry-run")
    assert refused.code == 1 and "global" in refused.err


def test_set_answers_an_invisible_secret_like_a_missing_one(cli, people):  # noqa: F811
    hidden = cli("set", "PRD_KEY", "x", "-w", "acme", "--env", "prd", "--actor", "devone")
    missing = cli("set", "NO_SUCH", "x", "-w", "acme", "--env", "prd", "--actor", "devone")
    assert hidden.code == missing.code == 1
    assert hidden.err == missing.err, (hidden.err, missing.err)
    assert SecretVersion.objects.filter(secret__key="PRD_KEY").count() == 1
