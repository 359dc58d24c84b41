"""Command lines: options before or after positionals, ``--`` ends the options (SPEC §8);
a closed pipe ends the command quietly.

The generic test walks every subcommand the registry declares, so a new subcommand
with positionals is covered without being listed here.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from secretvault import services
from secretvault.cli.parsing import OptionsAnywhereParser
from secretvault.management.commands.secretvault import Command

REPO = Path(__file__).resolve().parent.parent


def leaf_parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``("token revoke", parser)`` for every subcommand that runs a handler."""

    def walk(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        subactions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subactions:
            yield prefix.strip(), parser
        for action in subactions:
            for name, child in action.choices.items():
                yield from walk(child, f"{prefix} {name}")

    yield from walk(Command().create_parser("manage.py", "secretvault"), "")


def sample_argv(parser: argparse.ArgumentParser) -> tuple[list[list[str]], list[str]]:
    """(option groups with their arguments, positionals) that parse for ``parser``."""
    options: list[list[str]] = []
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.default == argparse.SUPPRESS:
            continue
        value = action.choices[0] if action.choices else "3" if action.type is int else "opt-value"
        options.append([action.option_strings[-1], str(value)])
    positionals = [
        "7" if action.type is int else f"POS_{n}"
        for n, action in enumerate(parser._positionals._group_actions)
        if action.nargs not in (argparse.REMAINDER, argparse.PARSER)
    ]
    return options, positionals


LEAVES = dict(leaf_parsers())
WITH_POSITIONALS = sorted(
    name
    for name, parser in LEAVES.items()
    if sample_argv(parser)[1]
    and not any(a.nargs == argparse.REMAINDER for a in parser._positionals._group_actions)
)


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> dict[str, Any]:
    return vars(parser.parse_args(argv))


def test_every_subcommand_with_positionals_is_covered() -> None:
    assert {"set", "get", "reveal", "rollback", "import", "token revoke", "workspace create"} <= set(
        WITH_POSITIONALS
    )
    assert all(isinstance(LEAVES[name], OptionsAnywhereParser) for name in WITH_POSITIONALS)


@pytest.mark.parametrize("name", WITH_POSITIONALS)
def test_options_may_come_before_between_or_after_the_positionals(name: str) -> None:
    parser = LEAVES[name]
    options, positionals = sample_argv(parser)
    flat = list(itertools.chain.from_iterable(options))
    expected = parse(parser, [*flat, *positionals])
    assert parse(parser, [*positionals, *flat]) == expected
    assert parse(parser, [*flat, "--", *positionals]) == expected
    assert parse(parser, [*positionals[:1], *flat, *positionals[1:]]) == expected
    if len(options) > 1:
        first, *others = options
        assert parse(parser, [*first, *positionals, *itertools.chain.from_iterable(others)]) == expected


@pytest.mark.parametrize("name", WITH_POSITIONALS)
def test_after_double_dash_everything_is_positional(name: str) -> None:
    parser = LEAVES[name]
    options, positionals = sample_argv(parser)
    if any(action.type is int for action in parser._positionals._group_actions):
        pytest.skip("an int positional cannot hold a dash word")
    dashed = ["--env", *(["-x"] * (len(positionals) - 1))]
    parsed = parse(parser, [*itertools.chain.from_iterable(options), "--", *dashed])
    dests = [a.dest for a in parser._positionals._group_actions]
    assert [parsed[dest] for dest in dests] == dashed


# ------------------------------------------------------------------------------------
# What the issue reported, end to end


@pytest.fixture
def stg(workspace: Any) -> Any:
    services.create_environment(workspace, slug="stg")
    services.create_environment(workspace, slug="dev")
    return workspace


def reveal(*argv: str) -> str:
    out = io.StringIO()
    call_command("secretvault", "reveal", *argv, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("argv", "key", "env", "value"),
    [
        (["K", "-w", "acme", "--env", "stg", "--", "-1234567"], "K", "stg", "-1234567"),
        (["K", "-w", "acme", "--env", "stg", "-1234567"], "K", "stg", "-1234567"),
        (
            ["API_TOKEN", "-w", "acme", "--env", "dev", "--expires", "30d", "sk_dev_value"],
            "API_TOKEN",
            "dev",
            "sk_dev_value",
        ),
        (["-w", "acme", "--env", "dev", "--", "K", "--env"], "K", "dev", "--env"),
        (["K", "-w", "acme", "--", "--"], "K", None, "--"),
        (["K", "-w", "acme", "--", "-"], "K", None, "-"),
        (["K", "--", "-w"], None, None, None),
    ],
)
def test_set_takes_its_value_after_options_and_after_double_dash(
    stg: Any, argv: list[str], key: str | None, env: str | None, value: str | None
) -> None:
    if key is None:  # "-w" after "--" is the value: the workspace is missing
        with pytest.raises(Exception, match="-w/--workspace"):
            call_command("secretvault", "set", *argv, stdout=io.StringIO())
        return
    call_command("secretvault", "set", *argv, stdout=io.StringIO())
    assert reveal(key, "-w", "acme", *(["--env", env] if env else [])) == value + "\n"


def test_rollback_and_get_accept_options_between_positionals(stg: Any) -> None:
    for value in ("one", "two"):
        call_command("secretvault", "set", "K", value, "-w", "acme", stdout=io.StringIO())
    call_command("secretvault", "rollback", "K", "-w", "acme", "1", stdout=io.StringIO())
    assert reveal("K", "-w", "acme") == "one\n"


def test_run_passes_its_command_through_untouched() -> None:
    parser = LEAVES["run"]
    parsed = parse(parser, ["-w", "acme", "--env", "prd", "--", "sh", "-c", "echo -w --env", "--", "-x"])
    assert parsed["workspace"] == "acme" and parsed["env"] == "prd"
    command = parsed["command"]
    assert command[command.index("sh") :] == ["sh", "-c", "echo -w --env", "--", "-x"]


# ------------------------------------------------------------------------------------
# A closed pipe


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    database = tmp_path_factory.mktemp("pipe") / "db.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": f"sqlite:///{database}"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True, timeout=120)  # noqa: S603
    subprocess.run([*manage, "secretvault", "workspace", "create", "acme"], cwd=REPO, env=env, check=True)  # noqa: S603
    for key, value in (("SMALL", "x"), ("BIG", "y" * 60_000)):
        subprocess.run(  # noqa: S603
            [*manage, "secretvault", "set", key, "--stdin", "-w", "acme"],
            cwd=REPO,
            env=env,
            input=value,
            text=True,
            check=True,
            capture_output=True,
        )
    return env


@pytest.mark.parametrize("argv", [["reveal", "SMALL"], ["reveal", "BIG"], ["list"]])
def test_a_closed_pipe_ends_the_command_quietly(sqlite_env: dict[str, str], argv: list[str]) -> None:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "secretvault", *argv, "-w", "acme"],
        cwd=REPO,
        env=sqlite_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written (| head -c0)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert stderr == ""
