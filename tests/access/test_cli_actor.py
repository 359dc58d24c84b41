"""``--actor`` on every subcommand, each asking the reach rule (SPEC §5, §9; issue #12).

The first tests walk the parser, so a subcommand added later without ``--actor``, or
whose handler does not ask ``secretvault.access``, fails here without anyone listing it.
The rest pin what the matrix (``test_matrix_cli.py``) does not cover: lists filtered
to the actor's reach, environments out of reach, ``run``, tokens, members, workspace
creation and key rotation.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secretvault.management.commands.secretvault import Command
from secretvault.models import Secret, ServiceToken, Workspace, WorkspaceMember
from tests.access.matrix import build_vault, make_person
from tests.access.test_matrix_cli import state
from tests.test_command import Cli, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

#: Needs no database and acts on nothing: the one subcommand without ``--actor``.
WITHOUT_ACTOR = {("generate-key",)}


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(("token", "list"), parser)`` for every runnable subcommand, groups walked through."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaves(sub, (*path, name))
            return
    yield path, parser


SUBCOMMANDS = dict(leaves(Command().create_parser("manage.py", "secretvault")))
IN_WORKSPACE = sorted(path for path, parser in SUBCOMMANDS.items() if "-w" in parser._option_string_actions)
WITH_ACTOR = sorted(path for path in SUBCOMMANDS if path not in WITHOUT_ACTOR)


def sample(action: argparse.Action) -> str:
    """A plausible argument for a required option or positional (the refusal comes first)."""
    if action.choices:
        return str(next(iter(action.choices)))
    if action.type is int:
        return "1"
    return {"env": "dev", "name": "t"}.get(action.dest, "x")


def argv(path: tuple[str, ...], actor: str, workspace: str = "acme") -> list[str]:
    """A command line of ``path`` with every required argument, as ``actor``."""
    parser = SUBCOMMANDS[path]
    options: list[str] = []
    positionals: list[str] = []
    remainder: list[str] = []
    for action in parser._actions:
        if action.dest in ("workspace", "actor", "help") or action.default == argparse.SUPPRESS:
            continue
        if not action.option_strings:
            if action.nargs == argparse.REMAINDER:
                remainder = ["--", "true"]
            elif action.nargs != "?":
                positionals.append(sample(action))
        elif action.required:
            options += [action.option_strings[-1], sample(action)]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            options += [first.option_strings[-1], sample(first)]
    where = ["-w", workspace] if path in IN_WORKSPACE else []
    return [*path, *positionals, *options, *where, "--actor", actor, *remainder]


@pytest.fixture
def vault(workspace, other_workspace, dev, prd, make_secret, django_user_model):
    return build_vault(workspace, make_secret, django_user_model)


@pytest.fixture
def person(vault: Workspace, django_user_model: Any) -> Any:
    """``person("developer_dev")``: a user of the matrix's table; returns the username."""

    def make(name: str) -> str:
        return str(make_person(name, vault, django_user_model).get_username())

    return make


def test_every_subcommand_but_generate_key_takes_actor() -> None:
    assert {("list",), ("get",), ("history",), ("stats",), ("token", "list"), ("env", "list")} <= set(
        IN_WORKSPACE
    )
    assert {("audit", "verify"), ("member", "list"), ("run",), ("export",)} <= set(IN_WORKSPACE)
    missing = [
        " ".join(path) for path in WITH_ACTOR if "--actor" not in SUBCOMMANDS[path]._option_string_actions
    ]
    assert not missing, f"subcommands without --actor: {missing}"
    assert set(IN_WORKSPACE) <= set(WITH_ACTOR)


@pytest.mark.parametrize("path", IN_WORKSPACE, ids=" ".join)
def test_a_workspace_out_of_reach_is_unknown(cli: Cli, person: Any, path: tuple[str, ...]) -> None:  # noqa: F811
    """Every subcommand in a workspace asks the reach rule: for an outsider it does not exist."""
    outsider = person("non_member_staff")
    before = state()
    hidden = cli(*argv(path, outsider))
    unknown = cli(*argv(path, outsider, workspace="nope"))
    assert hidden.error() == "secretvault: error: unknown workspace 'acme'."
    assert unknown.error() == "secretvault: error: unknown workspace 'nope'."
    assert hidden.out == "" and state() == before


@pytest.mark.parametrize("path", WITH_ACTOR, ids=" ".join)
def test_an_unknown_or_inactive_actor_is_refused(
    cli: Cli,  # noqa: F811
    vault: Workspace,
    django_user_model: Any,
    path: tuple[str, ...],
) -> None:
    django_user_model.objects.create_user("gone", password="pw", is_active=False)
    before = state()
    assert cli(*argv(path, "ghost")).error() == "secretvault: error: --actor: unknown user 'ghost'."
    assert cli(*argv(path, "gone")).error() == "secretvault: error: --actor: user 'gone' is inactive."
    # Even where the workspace does not exist: the actor is checked first.
    if path in IN_WORKSPACE:
        assert cli(*argv(path, "ghost", workspace="nope")).error().endswith("unknown user 'ghost'.")
    assert state() == before


def test_reads_show_only_what_the_actor_reaches(cli: Cli, person: Any) -> None:  # noqa: F811
    me = ("--actor", person("developer_dev"))
    listed = cli("workspace", "list", *me)
    assert listed.ok and [line.split()[0] for line in listed.out.splitlines()[1:]] == ["acme"]
    assert listed.out.splitlines()[1].split()[2:] == ["1", "2", "-"]  # envs, secrets, tokens
    assert cli("env", "list", "-w", "acme", *me).out.split()[2:] == ["dev", "Development"]
    assert json.loads(cli("stats", "-w", "acme", "--json", *me).out)["total"] == 2
    assert [row.split()[0] for row in cli("list", "-w", "acme", *me).out.splitlines()[1:]] == ["D", "G"]
    full = cli("workspace", "list").out  # the system sees everything
    assert "globex" in full and full.splitlines()[1].split()[2:] == ["2", "3", "0"]


def test_a_secret_or_environment_out_of_reach(cli: Cli, person: Any) -> None:  # noqa: F811
    me = ("--actor", person("developer_dev"))
    hidden, missing = cli("history", "P", "-w", "acme", *me), cli("history", "NOPE", "-w", "acme", *me)
    assert hidden.error().replace("'P'", "'X'") == missing.error().replace("'NOPE'", "'X'")
    # An environment beyond the actor's is refused whether it exists or not.
    for command in (("get", "P"), ("list",), ("export",), ("reveal", "P")):
        prd = cli(*command, "-w", "acme", "--env", "prd", *me)
        nope = cli(*command, "-w", "acme", "--env", "nope", *me)
        assert prd.error() == "secretvault: error: You cannot reach environment 'prd'."
        assert nope.error() == "secretvault: error: You cannot reach environment 'nope'."
    # The system is told which environments do not exist.
    assert "Unknown environment" in cli("list", "-w", "acme", "--env", "nope").error()


def test_run_hands_the_child_only_what_the_actor_may_load(cli: Cli, person: Any, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "child"
    child = ("--", "sh", "-c", f'printf "%s|%s|%s" "$G" "$D" "${{P-none}}" > {out}')
    viewer, dev_only = person("viewer"), person("developer_dev")
    refused = cli("run", "-w", "acme", "--env", "dev", "--actor", viewer, *child)
    assert refused.error() == "secretvault: error: You do not have permission to perform this action."
    refused = cli("run", "-w", "acme", "--env", "prd", "--actor", dev_only, *child)
    assert refused.error() == "secretvault: error: You cannot reach environment 'prd'."
    assert not out.exists()
    ran = cli("run", "-w", "acme", "--env", "dev", "--actor", dev_only, *child)
    assert ran.code == 0, ran.err
    assert out.read_text() == "G-v2|D-v2|none"


def test_tokens_and_members_need_the_admin_role(cli: Cli, person: Any, make_token: Any) -> None:  # noqa: F811
    token, _raw = make_token(name="ci")
    developer, admin = ("--actor", person("developer")), ("--actor", person("admin"))
    denied = "secretvault: error: You do not have permission to perform this action."
    assert cli("token", "list", "-w", "acme", *developer).error() == denied
    assert token.token_id in cli("token", "list", "-w", "acme", *admin).out
    # Whether a token or a member exists is not told to someone who cannot revoke or remove it.
    for target in (token.token_id, "0" * len(token.token_id)):
        assert cli("token", "revoke", target, "-w", "acme", *developer).error() == denied
    for user in ("admin", "nobody"):
        assert cli("member", "remove", "-w", "acme", "--user", user, *developer).error() == denied
    assert not ServiceToken.objects.get(pk=token.pk).is_revoked
    assert WorkspaceMember.objects.filter(user__username="admin").exists()
    assert cli("token", "revoke", token.token_id, "-w", "acme", *admin).ok


def test_delete_is_refused_before_the_question(cli: Cli, person: Any) -> None:  # noqa: F811
    result = cli("delete", "D", "-w", "acme", "--actor", person("viewer"), tty=True, stdin="y\n")
    assert result.error() == "secretvault: error: You do not have permission to perform this action."
    assert "Delete secret" not in result.err and Secret.objects.filter(key="D").exists()


def test_import_is_refused_as_a_whole_before_its_plan(cli: Cli, person: Any, tmp_path: Path) -> None:  # noqa: F811
    me = ("--actor", person("developer_dev"))
    source = tmp_path / "in.env"
    source.write_text("G=changed\nNEW=n\n")
    before = state()
    refused = cli("import", str(source), "-w", "acme", *me)
    assert refused.error().startswith("secretvault: error: You can write only in some environments")
    assert cli("import", str(source), "-w", "acme", "--env", "prd", *me).error().endswith("'prd'.")
    assert state() == before
    assert cli("import", str(source), "-w", "acme", "--env", "dev", *me).ok
    assert set(Secret.objects.filter(envs__slug="dev").values_list("key", flat=True)) == {"D", "G", "NEW"}


def test_workspace_creation_and_key_rotation_need_global_permissions(cli: Cli, person: Any) -> None:  # noqa: F811
    admin, boss = ("--actor", person("admin")), ("--actor", person("superuser"))
    denied = "secretvault: error: You do not have permission to perform this action."
    before = state()
    assert cli("workspace", "create", "newco", *admin).error() == denied
    assert cli("rotate-data-key", "-w", "acme", *admin).error() == denied
    assert cli("rotate-data-key", "-w", "acme", "--dry-run", *admin).error() == denied
    assert cli("rotate-master-key", *admin).error() == denied
    assert state() == before
    assert cli("workspace", "create", "newco", *boss).ok
    assert cli("rotate-data-key", "-w", "acme", *boss).ok
    assert cli("rotate-master-key", *boss).ok
