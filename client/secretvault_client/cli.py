"""The ``secretvault`` console script: a service's secrets in its environment, or on stdout.

    secretvault run --env prd -- python app.py
    secretvault export --env prd --format dotenv > .env
    secretvault get DATABASE_URL --env prd

Configured like the client, by ``SECRETVAULT_URL``, ``SECRETVAULT_TOKEN``,
``SECRETVAULT_WORKSPACE``, ``SECRETVAULT_ENV`` and ``SECRETVAULT_SCOPE``; the
``--url``, ``--token``, ``--workspace``, ``--env`` and ``--scope`` options
override them. Only the URL and the token are required: without a workspace,
the token's only workspace is used (asked from the server, one more request).
Errors are one line on stderr (``secretvault: error: ...``)
with exit status 2 for usage and configuration errors, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from secretvault_client import dotenv, process
from secretvault_client.childenv import child_environment, refusal_message
from secretvault_client.core import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_ALLOW_HTTP,
    ENV_ENV,
    ENV_SCOPE,
    ENV_TOKEN,
    ENV_URL,
    ENV_WORKSPACE,
    LOGGER_NAME,
    SecretVaultClient,
)
from secretvault_client.errors import ConfigurationError, SecretVaultError

PROG = "secretvault"
EXIT_USAGE = 2
EXIT_ERROR = 1
DEFAULT_WATCH_INTERVAL = 30.0

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UsageError(Exception):
    """Bad command-line usage, reported with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Reports errors as one line, ``secretvault: error: ...``, whatever subcommand raised them."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{PROG} --help')")


def build_parser() -> argparse.ArgumentParser:
    # The connection options are accepted before and after the subcommand. SUPPRESS keeps
    # an option given before the subcommand from being reset by the subcommand's default.
    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection (default: the environment variables)")
    group.add_argument("--url", default=argparse.SUPPRESS, help=f"API base URL [${ENV_URL}]")
    group.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help=f"service token [${ENV_TOKEN}]; prefer the variable: arguments are visible to other users",
    )
    group.add_argument(
        "-w",
        "--workspace",
        default=argparse.SUPPRESS,
        help=f"workspace slug [${ENV_WORKSPACE}]; default: the token's only workspace, asked from the server",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS,
        help=f"seconds for each call to the server, retries included (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--retries",
        type=int,
        default=argparse.SUPPRESS,
        help=f"retries on connection errors and 5xx (default {DEFAULT_RETRIES})",
    )
    group.add_argument(
        "--allow-http",
        action="store_true",
        default=argparse.SUPPRESS,
        help="accept a plain http:// URL to another machine (the token then crosses the network "
        f"in clear) [${ENV_ALLOW_HTTP}=1]",
    )
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log requests")

    selection = _Parser(add_help=False)
    selection.add_argument("-e", "--env", help=f"environment slug [${ENV_ENV}]")
    selection.add_argument("-s", "--scope", help=f"app tag [${ENV_SCOPE}]")

    parser = _Parser(
        prog=PROG,
        description="Read a secretvault workspace's secrets with a service token. Only "
        f"${ENV_URL} and ${ENV_TOKEN} are required; the workspace defaults to the token's own.",
        parents=[connection],
    )
    commands = parser.add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True, parser_class=_Parser
    )

    run = commands.add_parser(
        "run",
        parents=[connection, selection],
        help="run a command with the secrets as environment variables",
        description="Run COMMAND with the secrets as environment variables. Variables already set "
        "in the environment win over secrets of the same name; secrets named like PATH, LD_PRELOAD, "
        "BASH_ENV, PYTHON*, NODE_OPTIONS or SECRETVAULT_* are skipped unless allowed by --allow-name. "
        "Signals (INT, TERM, HUP, QUIT, USR1, USR2) are passed on to COMMAND; the exit status is "
        "COMMAND's (128+N when it died of signal N).",
    )
    add_run_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")

    export = commands.add_parser(
        "export",
        parents=[connection, selection],
        help="print the secrets as dotenv or JSON",
        description="Print the secrets on stdout, in plaintext. Redirect to a file readable by you only.",
    )
    export.add_argument("-f", "--format", choices=("dotenv", "json"), default="dotenv")

    get = commands.add_parser(
        "get",
        parents=[connection, selection],
        help="print one secret's value",
        description="Print the value of KEY on stdout, followed by a newline.",
    )
    get.add_argument("key", metavar="KEY")
    return parser


def _seconds(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return number


def _on_change(text: str) -> Any:
    try:
        return process.parse_on_change(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--on-change: ")) from None


def add_run_options(run: argparse.ArgumentParser) -> None:
    """The options of ``run`` that both CLIs share (this one and ``manage.py secretvault run``)."""
    run.add_argument(
        "--prefix",
        default="",
        help="put PREFIX before every variable name (e.g. APP_); the safe default: no secret can then "
        "set PATH, LD_PRELOAD, BASH_ENV ... (see --allow-name)",
    )
    run.add_argument(
        "--allow-name",
        action="append",
        default=[],
        metavar="NAME",
        help="inject the variable NAME although it changes how programs start (PATH, LD_*, PYTHON*, "
        "BASH_ENV, NODE_OPTIONS ...) or is SECRETVAULT_*; repeat per name. Without it such secrets are "
        "skipped, with a warning naming them",
    )
    run.add_argument(
        "--watch",
        action="store_true",
        help="keep checking for changed secrets (cheaply, by ETag) and act on the command (--on-change)",
    )
    run.add_argument(
        "--interval",
        type=_seconds,
        default=DEFAULT_WATCH_INTERVAL,
        metavar="S",
        help=f"with --watch: seconds between checks (default {DEFAULT_WATCH_INTERVAL:g})",
    )
    run.add_argument(
        "--on-change",
        type=_on_change,
        default=process.RESTART,
        metavar="restart|SIGNAL",
        help="with --watch: 'restart' the command with its new environment (SIGTERM, up to "
        f"{process.DEFAULT_STOP_TIMEOUT:g} s, SIGKILL, start again; the default) "
        "or send it SIGNAL (e.g. HUP)",
    )


def check_run_options(args: argparse.Namespace) -> list[str]:
    """The command after ``--``; ``UsageError`` for no command or a bad ``--prefix`` or ``--allow-name``."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError(f"no command given: {PROG} run [options] -- COMMAND [ARG ...]")
    if args.prefix and not _NAME.fullmatch(args.prefix):
        raise UsageError("--prefix must start with a letter or _ and hold only letters, digits and _")
    for name in args.allow_name:
        if not _NAME.fullmatch(name):
            raise UsageError(f"--allow-name {name[:60]!r} is not an environment variable name")
    return command


def _client(args: argparse.Namespace) -> SecretVaultClient:
    options: dict[str, Any] = {}
    if hasattr(args, "timeout"):
        options["timeout"] = args.timeout
    if hasattr(args, "retries"):
        options["retries"] = args.retries
    if getattr(args, "allow_http", False):
        options["allow_http"] = True
    return SecretVaultClient(
        url=getattr(args, "url", None),
        token=getattr(args, "token", None),
        workspace=getattr(args, "workspace", None),
        env=args.env,
        scope=args.scope,
        # One load per invocation: nothing to cache.
        cache_ttl=0,
        **options,
    )


def _child_environ(args: argparse.Namespace, secrets: Mapping[str, str]) -> dict[str, str]:
    made = child_environment(secrets, os.environ, prefix=args.prefix, allow=args.allow_name)
    if made.refused:
        _report(refusal_message(made.refused), level="warning")
    return made.environ


def _run(args: argparse.Namespace) -> int:
    command = check_run_options(args)
    client = _client(args)
    current = dict(client.load())
    environment = _child_environ(args, current)
    try:
        if not args.watch:
            return process.run(command, environment)

        def next_environ() -> dict[str, str] | None:
            nonlocal current
            try:
                latest = dict(client.load())  # cache_ttl=0: one revalidation, a 304 when unchanged
            except SecretVaultError as exc:
                _report(f"could not check for changed secrets (the command keeps running): {exc}", "warning")
                return None
            if latest == current:
                return None
            current = latest
            return _child_environ(args, latest)

        return process.run_watching(
            command,
            environment,
            next_environ,
            interval=args.interval,
            on_change=args.on_change,
            notice=lambda message: _report(message, level="notice"),
        )
    except FileNotFoundError:
        _report(f"command not found: {command[0]}")
        return process.EXIT_NOT_FOUND
    except PermissionError:
        _report(f"command not executable: {command[0]}")
        return process.EXIT_NOT_EXECUTABLE


def format_secrets(secrets: Mapping[str, str], fmt: str) -> str:
    """The text ``export`` prints: ``KEY="value"`` lines (``dotenv``) or a JSON object (``json``)."""
    plain = {key: str(value) for key, value in secrets.items()}
    if fmt == "json":
        return json.dumps(plain, indent=2, ensure_ascii=False) + "\n"
    if fmt == "dotenv":
        return dotenv.serialize(plain)
    raise ValueError(f"Unknown format {fmt!r}.")


def _export(args: argparse.Namespace) -> int:
    secrets = _client(args).load()
    try:
        text = format_secrets(secrets, args.format)
    except dotenv.UnrepresentableValueError as exc:  # names keys, never values
        _report(str(exc))
        return EXIT_ERROR
    notice = dotenv.reader_notice(secrets) if args.format == "dotenv" else None
    if notice:
        _report(notice, level="notice")
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _get(args: argparse.Namespace) -> int:
    client = _client(args)
    value = client.get_required(args.key)
    sys.stdout.write(str(value) + "\n")
    sys.stdout.flush()
    return 0


_COMMANDS = {"run": _run, "export": _export, "get": _get}


def _report(message: str, level: str = "error") -> None:
    sys.stderr.write(f"{PROG}: {level}: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``secretvault`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "verbose", False):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            client_logger = logging.getLogger(LOGGER_NAME)
            client_logger.addHandler(handler)
            client_logger.setLevel(logging.DEBUG)
        return _COMMANDS[args.subcommand](args)
    except (UsageError, ConfigurationError) as exc:
        _report(str(exc))
        return EXIT_USAGE
    except SecretVaultError as exc:
        _report(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (``export | head``); silence the interpreter's own complaint at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        _report(f"{type(exc).__name__}: {exc.strerror or exc}")
        return EXIT_ERROR
    except Exception as exc:  # a bug: still no traceback, which might quote a value
        _report(f"unexpected {type(exc).__name__}; please report it")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
