"""``manage.py secretvault``: every subcommand, its output and its error paths.

Most tests drive the command through ``run_from_argv`` in-process, which is the
path ``manage.py`` takes (argument parsing, error formatting, exit status)
without the cost of a new interpreter; a few run ``manage.py`` for real.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretvault import crypto, services
from secretvault.dotenv import UNWRITABLE
from secretvault.management.commands.secretvault import Command
from secretvault.models import (
    AuditEvent,
    Environment,
    Secret,
    SecretVersion,
    ServiceToken,
    Workspace,
)
from secretvault_client import childenv
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

REPO = Path(__file__).resolve().parent.parent
VALUE = "s3cr3t-value"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def error(self) -> str:
        """The one error line; asserts the shape every failure must have."""
        assert self.code != 0
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("secretvault: error: ")
        return lines[0]


class FakeStdin(io.StringIO):
    def __init__(self, text: str = "", tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli("set", "KEY", "v", "-w", "acme")`` as ``manage.py secretvault ...`` would run it."""
    # run_from_argv closes every connection when it ends; that would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def run(*argv: str, stdin: str = "", tty: bool = False) -> Result:
        monkeypatch.setattr(sys, "stdin", FakeStdin(stdin, tty))
        capsys.readouterr()
        code: Any = 0
        try:
            Command().run_from_argv(["manage.py", "secretvault", *argv])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return Result(code if isinstance(code, int) else 1, out, err)

    return run


def snapshot() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Workspace, Environment, Secret, SecretVersion, ServiceToken, AuditEvent)
    )


@pytest.fixture
def unchanged(db: Any) -> Iterator[None]:
    """The test body must leave every table as it found it."""
    before = snapshot()
    yield
    assert snapshot() == before


# --------------------------------------------------------------------------
# Parsing and error formatting


def test_usage_errors_exit_2_without_traceback(cli: Cli, workspace: Workspace) -> None:
    for argv in [(), ("bogus",), ("set",), ("set", "KEY"), ("list",), ("rollback", "K", "x", "-w", "acme")]:
        result = cli(*argv)
        assert result.code == 2, argv
        assert "usage:" in result.err
        assert "Traceback" not in result.err


def test_django_options_work_after_the_subcommand(cli: Cli, workspace: Workspace) -> None:
    result = cli("stats", "-w", "acme", "--verbosity", "0", "--no-color", "--traceback")
    assert result.ok
    assert "total" in result.out


def test_traceback_option_lets_errors_through(cli: Cli, workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="unknown workspace"):
        cli("stats", "-w", "nope", "--traceback")


def test_unknown_workspace(cli: Cli, workspace: Workspace, unchanged: None) -> None:
    for argv in [
        ("set", "K", "v", "-w", "nope"),
        ("list", "-w", "nope"),
        ("reveal", "K", "-w", "nope"),
        ("export", "-w", "nope", "--env", "prd"),
        ("token", "list", "-w", "nope"),
        ("rotate-data-key", "-w", "nope"),
    ]:
        assert cli(*argv).error() == "secretvault: error: unknown workspace 'nope'.", argv


def test_missing_master_key_is_a_clear_error(cli: Cli, db: Any, unchanged: None) -> None:
    with override_settings(SECRETVAULT={"MASTER_KEYS": []}):
        line = cli("workspace", "create", "acme").error()
    assert "No master key configured" in line


def test_wrong_master_key_is_a_clear_error(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    make_secret("API_KEY", VALUE)
    before = snapshot()
    wrong = TEST_MASTER_KEY.split(":")[0] + ":" + TEST_MASTER_KEY_2.split(":")[1]
    with override_settings(SECRETVAULT={"MASTER_KEYS": [wrong]}):
        result = cli("reveal", "API_KEY", "-w", "acme")
    assert "secretvault: error: " in result.error()
    assert VALUE not in result.out + result.err
    assert snapshot() == before


def test_database_errors_are_one_line(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("no such table: secretvault_workspace")

    monkeypatch.setattr(Workspace.objects, "get", broken)
    line = cli("stats", "-w", "acme").error()
    assert line == "secretvault: error: database error: no such table: secretvault_workspace"


def test_call_command_raises_command_error(workspace: Workspace, unchanged: None) -> None:
    with pytest.raises(CommandError, match="no secret 'NOPE'"):
        call_command("secretvault", "get", "NOPE", "-w", "acme")


# --------------------------------------------------------------------------
# Workspaces and environments


def test_workspace_create_and_list(cli: Cli, db: Any) -> None:
    result = cli("workspace", "create", "acme", "--name", "Acme Inc")
    assert result.ok
    assert result.out == "Created workspace acme (Acme Inc).\n"
    workspace = Workspace.objects.get(slug="acme")
    assert workspace.name == "Acme Inc"
    assert AuditEvent.objects.filter(action="workspace.create", workspace=workspace).count() == 1
    cli("workspace", "create", "globex")
    listing = cli("workspace", "list").out.splitlines()
    assert listing[0].split() == ["SLUG", "NAME", "ENVS", "SECRETS", "TOKENS"]
    assert listing[1].split() == ["acme", "Acme", "Inc", "0", "0", "0"]
    assert listing[2].split() == ["globex", "globex", "0", "0", "0"]


def test_workspace_list_empty(cli: Cli, db: Any) -> None:
    assert cli("workspace", "list").out == "No workspaces.\n"


def test_workspace_create_errors(cli: Cli, workspace: Workspace, unchanged: None) -> None:
    assert "already exists" in cli("workspace", "create", "acme").error()
    assert cli("workspace", "create", "Bad_Slug").error().startswith("secretvault: error: slug: ")


def test_env_create_and_list(cli: Cli, workspace: Workspace) -> None:
    assert cli("env", "list", "-w", "acme").out == "No environments in workspace acme.\n"
    result = cli("env", "create", "prd", "-w", "acme", "--name", "Production")
    assert result.out == "Created environment prd (Production) in workspace acme.\n"
    assert workspace.environments.get().name == "Production"
    cli("env", "create", "dev", "-w", "acme")
    assert [line.split() for line in cli("env", "list", "-w", "acme").out.splitlines()] == [
        ["SLUG", "NAME"],
        ["dev", "dev"],
        ["prd", "Production"],
    ]


def test_env_create_errors(cli: Cli, prd: Environment, unchanged: None) -> None:
    assert "already has an environment 'prd'" in cli("env", "create", "prd", "-w", "acme").error()
    assert "slug: " in cli("env", "create", "Bad_Env", "-w", "acme").error()


# --------------------------------------------------------------------------
# set


def test_set_creates_a_global_secret(cli: Cli, workspace: Workspace) -> None:
    result = cli("set", "API_KEY", VALUE, "-w", "acme")
    assert result.out == "Created API_KEY (global), version 1.\n"
    secret = Secret.objects.get(key="API_KEY")
    assert secret.env_slugs() == []
    assert services.reveal(secret) == VALUE
    version = secret.versions.get()
    assert (version.action, version.created_by) == ("create", None)
    assert AuditEvent.objects.get(action="secret.create").username == ""


def test_set_with_metadata(cli: Cli, prd: Environment, dev: Environment) -> None:
    result = cli(
        "set", "DB_URL", VALUE, "-w", "acme", "--env", "prd", "--env", "dev", "--scope", "web",
        "--scope", "worker", "--description", "the database", "--token-type", "access", "--expires", "30d",
    )  # fmt: skip
    assert result.out == "Created DB_URL (env dev,prd), version 1.\n"
    secret = Secret.objects.get(key="DB_URL")
    assert secret.env_slugs() == ["dev", "prd"]
    assert secret.scope == ["web", "worker"]
    assert (secret.description, secret.token_type) == ("the database", "access")
    assert secret.expires_at is not None and secret.is_expiring_soon() is False


def test_set_updates_the_secret_with_exactly_those_envs(
    cli: Cli, prd: Environment, make_secret: Callable[..., Secret]
) -> None:
    global_ = make_secret("API_KEY", "global-value")
    # A global exists; --env prd creates the prd override instead of touching it.
    assert cli("set", "API_KEY", "prd-1", "-w", "acme", "--env", "prd").out == (
        "Created API_KEY (env prd), version 1.\n"
    )
    override = Secret.objects.get(key="API_KEY", envs=prd)
    assert cli("set", "API_KEY", "prd-2", "-w", "acme", "--env", "prd").out == (
        "Updated API_KEY (env prd), version 2.\n"
    )
    assert cli("set", "API_KEY", "global-2", "-w", "acme").out == "Updated API_KEY (global), version 2.\n"
    override.refresh_from_db()
    global_.refresh_from_db()
    assert services.reveal(override) == "prd-2"
    assert services.reveal(global_) == "global-2"
    assert Secret.objects.count() == 2
    assert list(override.versions.values_list("action", flat=True)) == ["update", "create"]


def test_set_same_value_makes_no_version(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", VALUE)
    result = cli("set", "API_KEY", VALUE, "-w", "acme")
    assert result.out == "API_KEY (global) already holds this value; still version 1.\n"
    assert secret.versions.count() == 1


def test_set_metadata_only(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", VALUE, token_type="api")
    result = cli("set", "API_KEY", "-w", "acme", "--description", "rotated monthly", "--token-type", "none")
    assert result.out == "Updated the metadata of API_KEY (global).\n"
    secret.refresh_from_db()
    assert (secret.description, secret.token_type, secret.current_version) == ("rotated monthly", "", 1)
    cli("set", "API_KEY", "-w", "acme", "--expires", "2w")
    secret.refresh_from_db()
    assert secret.expires_at is not None
    cli("set", "API_KEY", "-w", "acme", "--expires", "never")
    secret.refresh_from_db()
    assert secret.expires_at is None


def test_set_reads_stdin_and_drops_one_final_newline(cli: Cli, workspace: Workspace) -> None:
    cli("set", "A", "--stdin", "-w", "acme", stdin="line one\nline two\n\n")
    cli("set", "B", "--stdin", "-w", "acme", stdin="windows\r\n")
    cli("set", "C", "--stdin", "--keep-trailing-newline", "-w", "acme", stdin="pem\n")
    values = services.load(workspace)
    assert values == {"A": "line one\nline two\n", "B": "windows", "C": "pem\n"}


def test_set_prompts_without_echo_on_a_terminal(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "typed"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert cli("set", "TYPED", "--stdin", "-w", "acme", tty=True).ok
    assert prompts == ["Value for TYPED: "]
    assert services.load(workspace) == {"TYPED": "typed"}


def test_set_records_the_actor(cli: Cli, workspace: Workspace, superuser: Any) -> None:
    cli("set", "API_KEY", "v1", "-w", "acme", "--actor", "root")
    cli("set", "API_KEY", "v2", "-w", "acme", "--actor", "root")
    versions = SecretVersion.objects.filter(secret__key="API_KEY")
    assert {v.created_by for v in versions} == {superuser}
    events = AuditEvent.objects.filter(action__in=["secret.create", "secret.update"])
    assert sorted(e.username for e in events) == ["root", "root"]


def test_set_errors_write_nothing(
    cli: Cli, prd: Environment, dev: Environment, make_secret: Callable[..., Secret], django_user_model: Any
) -> None:
    make_secret("SHARED", VALUE, envs=["prd", "dev"])
    django_user_model.objects.create_user("gone", is_active=False)
    before = snapshot()
    cases = {
        ("set", "1BAD", "v", "-w", "acme"): "secretvault: error: key: Use letters",
        ("set", "K", "v", "-w", "acme", "--env", "qa"): "Unknown environment(s) in workspace 'acme': 'qa'.",
        ("set", "K", "v", "-w", "acme", "--scope", "bad tag"): "scope: Scope tags use",
        ("set", "K", "v", "-w", "acme", "--expires", "soon"): "--expires: 'soon' is not an expiry",
        ("set", "K", "v", "-w", "acme", "--expires", "1500000000"): "is not in the future",
        ("set", "SHARED", "v", "-w", "acme", "--env", "prd"): "already serves environment(s) prd",
        ("set", "K", "v", "--stdin", "-w", "acme"): "not both",
        ("set", "K", "-w", "acme"): "K does not exist yet: give a VALUE or --stdin.",
        ("set", "SHARED", "-w", "acme", "--env", "prd", "--env", "dev"): "nothing to change",
        ("set", "K", "v", "-w", "acme", "--actor", "nobody"): "--actor: unknown user 'nobody'.",
        ("set", "K", "v", "-w", "acme", "--actor", "gone"): "--actor: user 'gone' is inactive.",
    }
    for argv, message in cases.items():
        result = cli(*argv)
        assert message in result.error(), argv
        assert VALUE not in result.err
    assert "value: The value is 70000 bytes" in cli("set", "BIG", "x" * 70_000, "-w", "acme").error()
    assert snapshot() == before


def test_set_never_prints_the_value(cli: Cli, workspace: Workspace) -> None:
    for argv in [("set", "K", VALUE, "-w", "acme"), ("set", "K", VALUE + "2", "-w", "acme")]:
        result = cli(*argv)
        assert VALUE not in result.out + result.err


# --------------------------------------------------------------------------
# list, get, reveal, history


@pytest.fixture
def populated(prd: Environment, dev: Environment, make_secret: Callable[..., Secret]) -> dict[str, Secret]:
    return {
        "global": make_secret("API_KEY", "global-value", scope=["web"], description="shared"),
        "prd": make_secret("API_KEY", "prd-value", envs=["prd"], token_type="api"),
        "dev": make_secret("DEBUG", "1", envs=["dev"]),
        "revoked": make_secret("OLD", "old-value"),
    }


def test_list_table(cli: Cli, populated: dict[str, Secret]) -> None:
    services.revoke_secret(populated["revoked"])
    lines = cli("list", "-w", "acme").out.splitlines()
    assert lines[0].split() == ["KEY", "ENVS", "SCOPE", "TYPE", "VERSION", "EXPIRES", "STATE"]
    assert [line.split() for line in lines[1:]] == [
        ["API_KEY", "(global)", "web", "-", "1", "-", "active"],
        ["API_KEY", "prd", "(all)", "api", "1", "-", "active"],
        ["DEBUG", "dev", "(all)", "-", "1", "-", "active"],
        ["OLD", "(global)", "(all)", "-", "1", "-", "revoked"],
    ]
    for value in ("global-value", "prd-value", "old-value"):
        assert value not in "\n".join(lines)


def test_list_filters(cli: Cli, populated: dict[str, Secret]) -> None:
    def keys(*argv: str) -> list[tuple[str, list[str]]]:
        data = json.loads(cli("list", "-w", "acme", "--json", *argv).out)
        return [(item["key"], item["envs"]) for item in data]

    assert keys("--env", "prd") == [("API_KEY", []), ("API_KEY", ["prd"]), ("OLD", [])]
    assert keys("--scope", "worker") == [("API_KEY", ["prd"]), ("DEBUG", ["dev"]), ("OLD", [])]
    services.revoke_secret(populated["revoked"])
    assert keys("--state", "revoked") == [("OLD", [])]
    assert (
        cli("list", "-w", "acme", "--env", "qa")
        .error()
        .endswith("Unknown environment(s) in workspace 'acme': 'qa'.")
    )


def test_list_empty(cli: Cli, workspace: Workspace) -> None:
    assert cli("list", "-w", "acme").out == "No secrets.\n"
    assert json.loads(cli("list", "-w", "acme", "--json").out) == []


def test_get_json_uses_the_api_field_names(cli: Cli, populated: dict[str, Secret]) -> None:
    secret = populated["prd"]
    data = json.loads(cli("get", "API_KEY", "-w", "acme", "--env", "prd", "--json").out)
    assert data == {
        "id": str(secret.id),
        "workspace": "acme",
        "key": "API_KEY",
        "description": "",
        "token_type": "api",
        "scope": [],
        "envs": ["prd"],
        "expires_at": None,
        "is_expired": False,
        "revoked": False,
        "version": 1,
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
    }
    assert data["created_at"].endswith("Z")
    # Without --env: the global one. With an env that has no override: the global one too.
    assert json.loads(cli("get", "API_KEY", "-w", "acme", "--json").out)["envs"] == []
    assert json.loads(cli("get", "API_KEY", "-w", "acme", "--env", "dev", "--json").out)["envs"] == []


def test_get_json_expiry_is_unix_seconds(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    cli("set", "K", "v", "-w", "acme", "--expires", "2100-01-01T00:00:00Z")
    assert json.loads(cli("get", "K", "-w", "acme", "--json").out)["expires_at"] == 4102444800


def test_get_table(cli: Cli, populated: dict[str, Secret]) -> None:
    out = cli("get", "API_KEY", "-w", "acme").out
    rows = dict(line.split(None, 1) for line in out.splitlines())
    assert rows["key"] == "API_KEY"
    assert rows["envs"] == "(global)"
    assert rows["scope"] == "web"
    assert rows["description"] == "shared"
    assert rows["expires_at"] == "never"
    assert rows["state"] == "active"
    assert "global-value" not in out


def test_lookup_errors(
    cli: Cli, prd: Environment, dev: Environment, make_secret: Callable[..., Secret]
) -> None:
    make_secret("SPLIT", "a", envs=["prd"])
    make_secret("SPLIT", "b", envs=["dev"])
    before = snapshot()
    for sub in ("get", "reveal", "history", "revoke", "restore", "delete"):
        assert cli(sub, "SPLIT", "-w", "acme").error() == (
            "secretvault: error: several secrets of key 'SPLIT' serve different environments; "
            "choose one with --env."
        ), sub
        assert cli(sub, "NOPE", "-w", "acme").error() == (
            "secretvault: error: no secret 'NOPE' in workspace 'acme'."
        ), sub
        assert cli(sub, "NOPE", "-w", "acme", "--env", "prd").error() == (
            "secretvault: error: no secret 'NOPE' serving environment 'prd' in workspace 'acme'."
        ), sub
        assert "Unknown environment(s)" in cli(sub, "SPLIT", "-w", "acme", "--env", "qa").error(), sub
    assert "no secret 'NOPE'" in cli("rollback", "NOPE", "1", "-w", "acme").error()
    assert snapshot() == before


def test_reveal_prints_the_value_alone(cli: Cli, populated: dict[str, Secret], superuser: Any) -> None:
    result = cli("reveal", "API_KEY", "-w", "acme", "--env", "prd", "--actor", "root")
    assert (result.out, result.err) == ("prd-value\n", "")
    event = AuditEvent.objects.get(action="secret.reveal")
    assert (event.key, event.username) == ("API_KEY", "root")
    assert cli("reveal", "API_KEY", "-w", "acme").out == "global-value\n"


def test_reveal_keeps_awkward_values_intact(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    make_secret("PEM", "-----BEGIN-----\nabc\n-----END-----\n")
    assert cli("reveal", "PEM", "-w", "acme").out == "-----BEGIN-----\nabc\n-----END-----\n\n"


def test_reveal_warns_about_a_revoked_secret_on_stderr(cli: Cli, populated: dict[str, Secret]) -> None:
    services.revoke_secret(populated["revoked"])
    result = cli("reveal", "OLD", "-w", "acme")
    assert result.out == "old-value\n"
    assert result.err == "warning: OLD (global) is revoked.\n"


def test_history(cli: Cli, make_secret: Callable[..., Secret], superuser: Any, make_token: Any) -> None:
    secret = make_secret("API_KEY", "v1")
    cli("set", "API_KEY", "v2", "-w", "acme", "--actor", "root")
    token, _ = make_token(can_write=True)
    from secretvault.audit import Actor

    services.update_secret(secret, value="v3", actor=Actor(token=token))
    cli("rollback", "API_KEY", "1", "-w", "acme")
    out = cli("history", "API_KEY", "-w", "acme").out
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["VERSION", "ACTION", "FROM", "BY", "CREATED"]
    assert [row[:4] for row in rows[1:]] == [
        ["*4", "rollback", "1", "system"],
        ["3", "update", "-", f"token:{token.token_id}"],
        ["2", "update", "-", "root"],
        ["1", "create", "-", "system"],
    ]
    data = json.loads(cli("history", "API_KEY", "-w", "acme", "--json").out)
    assert data[0] == {
        "version": 4,
        "action": "rollback",
        "source_version": 1,
        "created_by": None,
        "token_id": None,
        "created_at": data[0]["created_at"],
    }
    assert (data[1]["token_id"], data[2]["created_by"]) == (token.token_id, "root")
    assert "v1" not in out and "v2" not in out


# --------------------------------------------------------------------------
# rollback, revoke, restore, delete


def test_rollback(cli: Cli, make_secret: Callable[..., Secret], superuser: Any) -> None:
    secret = make_secret("API_KEY", "first")
    services.update_secret(secret, value="second")
    result = cli("rollback", "API_KEY", "1", "-w", "acme", "--actor", "root")
    assert result.out == "Rolled API_KEY (global) back to version 1: now version 3.\n"
    newest = secret.versions.order_by("-version").first()
    assert newest is not None
    assert (newest.version, newest.action, newest.source_version, newest.created_by) == (
        3,
        "rollback",
        1,
        superuser,
    )
    secret.refresh_from_db()
    assert services.reveal(secret) == "first"
    assert "first" not in result.out + result.err


def test_rollback_check_and_set(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", "first")
    services.update_secret(secret, value="second")
    before = snapshot()
    stale = cli("rollback", "API_KEY", "1", "-w", "acme", "--expected-version", "1")
    assert stale.code == 1 and "version" in stale.err and "first" not in stale.out + stale.err
    assert snapshot() == before
    assert cli("rollback", "API_KEY", "1", "-w", "acme", "--expected-version", "2").code == 0
    secret.refresh_from_db()
    assert secret.current_version == 3


def test_rollback_to_an_unknown_version(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    make_secret("API_KEY", VALUE)
    before = snapshot()
    assert cli("rollback", "API_KEY", "7", "-w", "acme").error() == (
        "secretvault: error: Secret 'API_KEY' has no version 7."
    )
    assert snapshot() == before


def test_revoke_and_restore(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", VALUE)
    assert cli("revoke", "API_KEY", "-w", "acme").out == "Revoked API_KEY (global).\n"
    secret.refresh_from_db()
    assert secret.is_revoked
    assert cli("revoke", "API_KEY", "-w", "acme").out == "API_KEY (global) was already revoked.\n"
    assert cli("restore", "API_KEY", "-w", "acme").out == "Restored API_KEY (global).\n"
    secret.refresh_from_db()
    assert not secret.is_revoked
    assert cli("restore", "API_KEY", "-w", "acme").out == "API_KEY (global) was not revoked.\n"
    assert AuditEvent.objects.filter(action__in=["secret.revoke", "secret.restore"]).count() == 2


def test_delete_with_yes(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", VALUE)
    services.update_secret(secret, value="two")
    assert cli("delete", "API_KEY", "-w", "acme", "--yes").out == "Deleted API_KEY (global).\n"
    assert not Secret.objects.exists()
    assert not SecretVersion.objects.exists()
    assert AuditEvent.objects.filter(action="secret.delete").count() == 1


def test_delete_asks_on_a_terminal(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    secret = make_secret("API_KEY", VALUE)
    services.update_secret(secret, value="two")
    before = snapshot()
    for answer in ("n\n", "\n", "", "nope\n"):
        result = cli("delete", "API_KEY", "-w", "acme", stdin=answer, tty=True)
        assert result.code == 1
        assert result.err.startswith("Delete secret API_KEY and all 2 versions? [y/N] ")
        assert result.err.endswith("secretvault: error: aborted; nothing was deleted.\n")
    assert snapshot() == before
    result = cli("delete", "API_KEY", "-w", "acme", stdin="y\n", tty=True)
    assert result.ok
    assert result.err == "Delete secret API_KEY and all 2 versions? [y/N] "
    assert not Secret.objects.exists()


def test_counts_in_messages_use_plural_forms(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    """One version, one event: no "all 1 versions", no "1 events" (issue #11.10)."""
    make_secret("API_KEY", VALUE)
    result = cli("delete", "API_KEY", "-w", "acme", stdin="n\n", tty=True)
    assert result.err.startswith("Delete secret API_KEY and its 1 version? [y/N] ")
    fresh = services.create_workspace(slug="fresh")
    assert fresh.pk
    assert cli("audit", "verify", "-w", "fresh").out == "Audit chain of fresh verified: 1 event intact.\n"


def test_delete_refuses_without_a_terminal_or_yes(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    make_secret("API_KEY", VALUE)
    before = snapshot()
    assert cli("delete", "API_KEY", "-w", "acme", stdin="y\n").error() == (
        "secretvault: error: refusing to delete without confirmation: pass --yes (no terminal to ask on)."
    )
    assert snapshot() == before


def test_stats(cli: Cli, populated: dict[str, Secret]) -> None:
    services.revoke_secret(populated["revoked"])
    assert json.loads(cli("stats", "-w", "acme", "--json").out) == {
        "total": 4,
        "active": 3,
        "expired": 0,
        "expiring_soon": 0,
        "revoked": 1,
    }
    rows = dict(line.split() for line in cli("stats", "-w", "acme").out.splitlines())
    assert rows == {
        "STATE": "SECRETS",
        "total": "4",
        "active": "3",
        "expired": "0",
        "expiring_soon": "0",
        "revoked": "1",
    }


# --------------------------------------------------------------------------
# Service tokens


def test_token_create_prints_the_raw_token_last_and_only_there(
    cli: Cli, prd: Environment, superuser: Any
) -> None:
    result = cli(
        "token", "create", "-w", "acme", "--name", "ci", "--env", "prd", "--scope", "web", "--write",
        "--expires", "1y", "--description", "deploys", "--actor", "root",
    )  # fmt: skip
    assert result.ok
    *head, raw = result.out.splitlines()
    token = ServiceToken.objects.authenticate(raw)
    assert token is not None
    assert (token.name, token.description, token.can_write, token.scope) == ("ci", "deploys", True, ["web"])
    assert token.env_slugs() == ["prd"]
    assert token.created_by == superuser
    assert token.expires_at is not None
    assert head[0].startswith(f"Created service token {token.token_id} (ci) in workspace acme: read-write")
    assert raw not in "\n".join(head) + result.err
    assert raw.split("_")[2] not in "\n".join(head)


def test_token_create_errors(cli: Cli, workspace: Workspace, unchanged: None) -> None:
    assert "--name" in cli("token", "create", "-w", "acme").err
    assert (
        "Unknown environment(s)" in cli("token", "create", "-w", "acme", "--name", "x", "--env", "qa").error()
    )
    assert "--expires: " in cli("token", "create", "-w", "acme", "--name", "x", "--expires", "-1").error()
    assert "name: A token needs a name." in cli("token", "create", "-w", "acme", "--name", " ").error()


def test_token_list(cli: Cli, make_token: Any, prd: Environment) -> None:
    assert cli("token", "list", "-w", "acme").out == "No service tokens in workspace acme.\n"
    token, raw = make_token(name="reader", envs=["prd"])
    other, other_raw = make_token(name="writer", can_write=True)
    services.revoke_token(other)
    result = cli("token", "list", "-w", "acme")
    rows = [line.split() for line in result.out.splitlines()]
    assert rows[0] == [
        "TOKEN_ID",
        "NAME",
        "ACCESS",
        "ENVS",
        "SCOPE",
        "CREATED",
        "LAST_USED",
        "EXPIRES",
        "STATE",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[token.token_id][1:5] == ["reader", "read", "prd", "(all)"]
    assert by_id[token.token_id][-3:] == ["never", "never", "active"]
    assert by_id[other.token_id][-1] == "revoked"
    data = json.loads(cli("token", "list", "-w", "acme", "--json").out)
    assert {item["token_id"]: item["revoked"] for item in data} == {
        token.token_id: False,
        other.token_id: True,
    }
    assert set(data[0]) == {
        "token_id", "name", "description", "envs", "scope", "can_write", "expires_at", "revoked",
        "last_used_at", "created_at",
    }  # fmt: skip
    everything = result.out + json.dumps(data)
    for secret_part in (raw, other_raw, token.digest, raw.split("_")[2]):
        assert secret_part not in everything


def test_token_revoke(cli: Cli, make_token: Any) -> None:
    token, raw = make_token(name="ci")
    assert cli("token", "revoke", token.token_id, "-w", "acme").out == (
        f"Revoked service token {token.token_id} (ci).\n"
    )
    assert ServiceToken.objects.authenticate(raw) is None
    assert cli("token", "revoke", token.token_id, "-w", "acme").out == (
        f"Service token {token.token_id} (ci) was already revoked.\n"
    )
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_token_revoke_accepts_a_pasted_raw_token(cli: Cli, make_token: Any) -> None:
    token, raw = make_token(name="leaked")
    result = cli("token", "revoke", raw, "-w", "acme")
    assert result.out == f"Revoked service token {token.token_id} (leaked).\n"


def test_token_revoke_errors(cli: Cli, make_token: Any, other_workspace: Workspace) -> None:
    token, raw = make_token()
    before = snapshot()
    assert cli("token", "revoke", "0123456789abcdef", "-w", "acme").error() == (
        "secretvault: error: no service token '0123456789abcdef' in workspace 'acme' "
        "(give the TOKEN_ID that 'token list' shows)."
    )
    # Another workspace's token is unknown here, and a raw token is never echoed back.
    assert f"'{token.token_id}'" in cli("token", "revoke", token.token_id, "-w", "globex").error()
    result = cli("token", "revoke", raw, "-w", "globex")
    assert raw not in result.error()
    assert raw.split("_")[2] not in result.err
    assert snapshot() == before


# --------------------------------------------------------------------------
# export and import


def test_export_dotenv_and_json(cli: Cli, populated: dict[str, Secret], superuser: Any) -> None:
    result = cli("export", "-w", "acme", "--env", "prd", "--actor", "root")
    assert result.out == 'API_KEY="prd-value"\nOLD="old-value"\n'
    assert json.loads(cli("export", "-w", "acme", "--env", "dev", "--format", "json").out) == {
        "API_KEY": "global-value",
        "DEBUG": "1",
        "OLD": "old-value",
    }
    assert cli("export", "-w", "acme", "--env", "dev", "--scope", "web").out == (
        'API_KEY="global-value"\nDEBUG="1"\nOLD="old-value"\n'
    )
    assert AuditEvent.objects.filter(action="secrets.load", username="root").count() == 1


def test_export_needs_an_env(cli: Cli, populated: dict[str, Secret]) -> None:
    assert cli("export", "-w", "acme").code == 2
    assert "Unknown environment(s)" in cli("export", "-w", "acme", "--env", "qa").error()


def test_import_dotenv(cli: Cli, tmp_path: Path, make_secret: Callable[..., Secret], superuser: Any) -> None:
    make_secret("SAME", "same")
    changed = make_secret("CHANGED", "old")
    path = tmp_path / "prod.env"
    path.write_text("# exported\nNEW=\"fresh\\nline\"\nSAME=same\nexport CHANGED='new $value'\n")
    result = cli("import", str(path), "-w", "acme", "--actor", "root")
    assert result.out == (
        "Imported 3 secrets into acme (global): 1 created, 1 updated, 1 unchanged.\n"
        "  created: NEW\n"
        "  updated: CHANGED\n"
        "  unchanged: SAME\n"
    )
    assert services.load(changed.workspace) == {"CHANGED": "new $value", "NEW": "fresh\nline", "SAME": "same"}
    imported = SecretVersion.objects.filter(action="import")
    assert sorted((v.secret.key, v.version) for v in imported) == [("CHANGED", 2), ("NEW", 1)]
    assert {v.created_by for v in imported} == {superuser}
    assert SecretVersion.objects.filter(secret__key="SAME").count() == 1
    for value in ("fresh", "new $value"):
        assert value not in result.out + result.err


def test_import_into_an_env(
    cli: Cli, tmp_path: Path, prd: Environment, make_secret: Callable[..., Secret]
) -> None:
    global_ = make_secret("API_KEY", "global")
    path = tmp_path / "prd.env"
    path.write_text("API_KEY=prd\n")
    assert cli("import", str(path), "-w", "acme", "--env", "prd").out.startswith(
        "Imported 1 secret into acme (env prd): 1 created, 0 updated, 0 unchanged."
    )
    assert services.reveal(global_) == "global"
    assert services.load(global_.workspace, env="prd") == {"API_KEY": "prd"}


def test_import_json_by_extension_and_by_content(cli: Cli, tmp_path: Path, workspace: Workspace) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"A": "1", "B": "two\n"}))
    assert cli("import", str(path), "-w", "acme").ok
    result = cli("import", "-", "-w", "acme", stdin='  {"B": "2", "C": "3"}')
    assert result.out.startswith("Imported 2 secrets into acme (global): 1 created, 1 updated, 0 unchanged.")
    # The REST API's load shape works too.
    api = {"workspace": "acme", "env": None, "secrets": {"D": "4"}}
    assert cli("import", "-", "-w", "acme", stdin=json.dumps(api)).ok
    assert services.load(workspace) == {"A": "1", "B": "2", "C": "3", "D": "4"}


def test_import_dry_run_writes_nothing(cli: Cli, tmp_path: Path, make_secret: Callable[..., Secret]) -> None:
    make_secret("A", "old")
    before = snapshot()
    result = cli("import", "-", "-w", "acme", "--dry-run", stdin="A=new\nB=b\n")
    assert result.out.startswith(
        "Would import 2 secrets into acme (global): 1 created, 1 updated, 0 unchanged."
    )
    assert snapshot() == before


def test_import_reports_progress_on_stderr(cli: Cli, workspace: Workspace) -> None:
    from secretvault import bulk

    text = "".join(f"K{i}={i}\n" for i in range(bulk.IMPORT_BATCH + 5))
    result = cli("import", "-", "-w", "acme", stdin=text)
    assert result.code == 0, result.err
    assert f"import: {bulk.IMPORT_BATCH}/{bulk.IMPORT_BATCH + 5} keys" in result.err
    assert f"import: {bulk.IMPORT_BATCH + 5}/{bulk.IMPORT_BATCH + 5} keys" in result.err
    assert "import:" not in result.out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GOOD=1\n1BAD=2\nbad-name=3\n", "standard input: nothing imported: line 2: Use letters"),
        ("GOOD=1\n1BAD=2\nbad-name=3\n", "line 3: Use letters"),
        ("A=1\nB=2\nA=3\n", "line 3: the same key as line 1"),
        ('A=1\nB="unterminated\n', "standard input: line 2: unterminated double-quoted value."),
        ("A=1\nnot an assignment\n", "standard input: line 2: expected KEY=VALUE."),
        (
            '{"A": "1", "B": 2, "C": null}',
            'entry 2: the value must be a string (quote numbers and booleans: "8080", "true"); '
            "entry 3: the value must be a string",
        ),
        ('{"A": "1", "A": "2"}', "entry 2: the same key as entry 1"),
        ('{"A": "1",}', "standard input: invalid JSON at line 1 column"),
        ("[1, 2]", "standard input: line 1: expected KEY=VALUE."),
        ('{"NUL": "a\\u0000b"}', "entry 1: The value must not contain NUL characters."),
    ],
)
def test_import_checks_everything_before_writing(
    cli: Cli, make_secret: Callable[..., Secret], text: str, message: str
) -> None:
    make_secret("GOOD", "0")
    before = snapshot()
    assert message in cli("import", "-", "-w", "acme", stdin=text).error()
    assert snapshot() == before


def test_import_non_object_json(cli: Cli, tmp_path: Path, workspace: Workspace, unchanged: None) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    assert (
        cli("import", str(path), "-w", "acme")
        .error()
        .endswith('expected a JSON object {"KEY": "value", ...}.')
    )


def test_import_refuses_a_conflict_before_writing_anything(
    cli: Cli, prd: Environment, dev: Environment, make_secret: Callable[..., Secret]
) -> None:
    # The second key conflicts with a secret serving prd and dev: the whole import is
    # planned first, so the first key is not written either (batches come after).
    make_secret("TAKEN", VALUE, envs=["prd", "dev"])
    before = snapshot()
    result = cli("import", "-", "-w", "acme", "--env", "prd", stdin="AAA=1\nTAKEN=2\n")
    assert "already serves environment(s) prd" in result.error()
    assert snapshot() == before


def test_import_file_errors(cli: Cli, tmp_path: Path, workspace: Workspace, unchanged: None) -> None:
    assert (
        cli("import", str(tmp_path / "missing.env"), "-w", "acme")
        .error()
        .endswith("No such file or directory.")
    )
    binary = tmp_path / "binary.env"
    binary.write_bytes(b"A=\xff\xfe\n")
    assert cli("import", str(binary), "-w", "acme").error().endswith("is not UTF-8 text.")
    good = tmp_path / "good.env"
    good.write_text("A=1\n")
    assert "Unknown environment(s)" in cli("import", str(good), "-w", "acme", "--env", "qa").error()


_workspaces = itertools.count()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True),
        st.text(
            # Line separators no dotenv escape expresses are refused (tests/test_import_export.py).
            alphabet=st.characters(blacklist_characters=["\x00", *UNWRITABLE], blacklist_categories=["Cs"]),
            max_size=40,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_export_import_round_trip(cli: Cli, db: Any, values: dict[str, str]) -> None:
    n = next(_workspaces)
    source = services.create_workspace(slug=f"src-{n}")
    target = services.create_workspace(slug=f"dst-{n}")
    for workspace in (source, target):
        services.create_environment(workspace, slug="prd")
    for key, value in values.items():
        services.create_secret(source, key=key, value=value, envs=["prd"])
    exported = cli("export", "-w", source.slug, "--env", "prd")
    assert exported.ok
    imported = cli("import", "-", "-w", target.slug, "--env", "prd", stdin=exported.out)
    assert imported.ok, imported.err
    assert services.load(target, env="prd") == values
    as_json = cli("export", "-w", source.slug, "--env", "prd", "--format", "json")
    again = cli("import", "-", "-w", target.slug, "--env", "prd", stdin=as_json.out)
    assert f"0 created, 0 updated, {len(values)} unchanged." in again.out


# --------------------------------------------------------------------------
# run


@pytest.fixture(autouse=True)
def _run_starts_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process, ``monkeypatch.setenv`` stands for the shell that started ``manage.py``.

    ``run`` hands its child the environment the process was started with (read
    from /proc); here that is pytest's, so it is replaced by ``os.environ``.
    tests/cli/test_run_process.py checks the real thing in subprocesses.
    """
    monkeypatch.setattr(childenv, "start_environment", lambda: dict(os.environ))


CHILD = """
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({k: v for k, v in os.environ.items() if k.startswith(("API_", "APP_", "DEBUG", "PRESET"))}, f)
sys.exit(int(os.environ.get("CODE", "0")))
"""


def run_child(cli: Cli, tmp_path: Path, *options: str) -> tuple[Result, dict[str, str]]:
    out = tmp_path / "env.json"
    result = cli("run", "-w", "acme", *options, "--", sys.executable, "-c", CHILD, str(out))
    return result, json.loads(out.read_text()) if out.exists() else {}


def test_run_passes_the_resolved_secrets(
    cli: Cli, tmp_path: Path, populated: dict[str, Secret], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("API_KEY", raising=False)
    result, env = run_child(cli, tmp_path, "--env", "prd")
    assert result.ok
    assert env == {"API_KEY": "prd-value"}
    assert (result.out, result.err) == ("", "")
    assert AuditEvent.objects.filter(action="secrets.load").count() == 1


def test_run_variables_already_set_win(
    cli: Cli, tmp_path: Path, populated: dict[str, Secret], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBUG", "from-the-shell")
    result, env = run_child(cli, tmp_path, "--env", "dev", "-v", "2")
    assert env["DEBUG"] == "from-the-shell"
    assert env["API_KEY"] == "global-value"
    assert "already set, kept: DEBUG" in result.err
    for value in ("global-value", "old-value"):
        assert value not in result.out + result.err


def test_run_prefix_and_scope(
    cli: Cli, tmp_path: Path, populated: dict[str, Secret], monkeypatch: pytest.MonkeyPatch
) -> None:
    result, env = run_child(cli, tmp_path, "--env", "prd", "--prefix", "APP_", "--scope", "web")
    assert env == {"APP_API_KEY": "prd-value", "APP_OLD": "old-value"}
    assert "--prefix: " in cli("run", "-w", "acme", "--env", "prd", "--prefix", "1X", "--", "true").error()


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_run_passes_the_exit_status_through(
    cli: Cli, tmp_path: Path, populated: dict[str, Secret], monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    monkeypatch.setenv("CODE", str(code))
    result, _ = run_child(cli, tmp_path, "--env", "prd")
    assert result.code == code
    assert result.err == ""


def test_run_errors(cli: Cli, populated: dict[str, Secret]) -> None:
    result = cli("run", "-w", "acme", "--env", "prd", "--", "no-such-command-here")
    assert result.code == 127
    assert result.error() == "secretvault: error: command not found: no-such-command-here"
    assert "run needs a command" in cli("run", "-w", "acme", "--env", "prd").error()
    assert "run needs a command" in cli("run", "-w", "acme", "--env", "prd", "--").error()
    assert "Unknown environment(s)" in cli("run", "-w", "acme", "--env", "qa", "--", "true").error()
    assert cli("run", "-w", "acme", "--", "true").code == 2


# --------------------------------------------------------------------------
# Keys


def test_generate_key_touches_no_database(cli: Cli) -> None:
    # No db fixture: pytest-django fails any query this test makes.
    with override_settings(SECRETVAULT={"MASTER_KEYS": []}):
        result = cli("generate-key")
    assert result.ok
    key = crypto.parse_master_key(result.out.splitlines()[-1])
    assert len(key.key) == 32
    assert "SECRETVAULT_MASTER_KEYS" in result.err
    assert cli("generate-key").out != result.out


def test_rotate_master_key(cli: Cli, make_secret: Callable[..., Secret], other_workspace: Workspace) -> None:
    make_secret("API_KEY", VALUE)
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        dry = cli("rotate-master-key", "--dry-run")
        assert dry.out == "Would re-wrap 2 workspace data key(s) under master key test-2.\n"
        assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-1"}
        result = cli("rotate-master-key")
        assert result.out == "Re-wrapped 2 workspace data key(s) under master key test-2.\n"
        assert "rotate-master-key: 2/2 workspaces" in result.err
        assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-2"}
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2]}):
        assert cli("reveal", "API_KEY", "-w", "acme").out == VALUE + "\n"
        assert cli("rotate-master-key", "-v", "0") == Result(
            0, "Re-wrapped 0 workspace data key(s) under master key test-2.\n", ""
        )


def test_rotate_master_key_without_the_old_key(cli: Cli, make_secret: Callable[..., Secret]) -> None:
    make_secret("API_KEY", VALUE)
    before = snapshot()
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2]}):
        assert "Master key 'test-1' is not in" in cli("rotate-master-key").error()
    assert snapshot() == before
    assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-1"}


def test_rotate_data_key(cli: Cli, make_secret: Callable[..., Secret], workspace: Workspace) -> None:
    secret = make_secret("API_KEY", VALUE)
    services.update_secret(secret, value="second")
    old_id = workspace.data_key_id
    dry = cli("rotate-data-key", "-w", "acme", "--dry-run")
    assert dry.out == "Would re-encrypt 2 version(s) of workspace acme.\n"
    workspace.refresh_from_db()
    assert workspace.data_key_id == old_id
    result = cli("rotate-data-key", "-w", "acme")
    workspace.refresh_from_db()
    assert workspace.data_key_id != old_id
    assert (
        result.out == f"Re-encrypted 2 version(s) of workspace acme under data key {workspace.data_key_id}.\n"
    )
    assert "rotate-data-key: 2/2 versions" in result.err
    assert cli("reveal", "API_KEY", "-w", "acme").out == "second\n"
    assert AuditEvent.objects.filter(action="workspace.rotate_data_key").count() == 1


# --------------------------------------------------------------------------
# call_command


def test_call_command_with_an_input_stream(workspace: Workspace) -> None:
    out = io.StringIO()
    call_command(
        "secretvault", "set", "K", "--stdin", "-w", "acme", input_stream=io.StringIO("v\n"), stdout=out
    )
    assert out.getvalue() == "Created K (global), version 1.\n"
    out = io.StringIO()
    call_command("secretvault", "reveal", "K", "-w", "acme", stdout=out)
    assert out.getvalue() == "v\n"


# --------------------------------------------------------------------------
# manage.py, for real


def manage(*argv: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "secretvault", *argv],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for a manage.py subprocess on its own migrated SQLite file."""
    database = tmp_path_factory.mktemp("cli") / "db.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True, timeout=120
    )
    return env


def test_manage_py_round_trip_and_error_format(sqlite_env: dict[str, str]) -> None:
    assert manage("workspace", "create", "acme", env=sqlite_env).returncode == 0
    created = manage("set", "API_KEY", "--stdin", "-w", "acme", env=sqlite_env, stdin="top secret\n")
    assert (created.returncode, created.stdout) == (0, "Created API_KEY (global), version 1.\n")
    revealed = manage("reveal", "API_KEY", "-w", "acme", env=sqlite_env)
    assert (revealed.returncode, revealed.stdout) == (0, "top secret\n")

    missing = manage("reveal", "NOPE", "-w", "acme", env=sqlite_env)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr == "secretvault: error: no secret 'NOPE' in workspace 'acme'.\n"

    usage = manage("set", env=sqlite_env)
    assert usage.returncode == 2
    assert "usage: manage.py secretvault set" in usage.stderr
    assert "Traceback" not in usage.stderr


def test_manage_py_generate_key_needs_no_key_and_no_database(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}}
    (tmp_path / "keyless_settings.py").write_text(
        "from tests.settings import *  # noqa\n"
        f"SECRETVAULT = {{'MASTER_KEYS': []}}\nDATABASES = {databases!r}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "keyless_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
    }
    result = manage("generate-key", env=env)
    assert result.returncode == 0, result.stderr
    crypto.parse_master_key(result.stdout.splitlines()[-1])
    assert not database.exists()


def test_unusable_names_are_shown_quoted_and_scope_filters_checked(cli, workspace, dev, make_secret):
    """A name with a line break is shown escaped (not as 'dev ' on two lines); a bad --scope is refused."""
    make_secret("A", "a", envs=["dev"])
    for argv in (("list", "-w", "acme", "--env", "dev\n"), ("reveal", "A", "-w", "acme", "--env", "d\nev")):
        error = cli(*argv).error()
        assert "\n" not in error.rstrip("\n") and ("'dev\\n'" in error or "'d\\nev'" in error), error
    for sub in (("list",), ("export", "--env", "dev"), ("run", "--env", "dev")):
        result = cli(*sub, "-w", "acme", "--scope", "a\x00")
        assert result.code == 2 and "is not a scope tag" in result.err, result.err
