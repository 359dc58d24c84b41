"""``run -w WS --env ENV -- COMMAND ...``: a child process with the resolved secrets.

Variables already set in the environment win over the vault's. The exit status
is the child's (128 + N when a signal killed it; 127 command not found, 126
not executable).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess

from django.core.management.base import CommandError
from django.db import connections
from django.utils.translation import ngettext

from .parsing import Subcommands
from .session import Options, Session
from .transfer import resolved

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def register(commands: Subcommands) -> None:
    sub = commands.add(
        "run", "Run COMMAND with the resolved secrets in its environment.", handle_run, *commands.in_workspace
    )
    sub.add_argument("--env", required=True)
    sub.add_argument("--scope", metavar="TAG", help="only what an app tagged TAG sees")
    sub.add_argument("--prefix", default="", help="prefix every variable name with this")
    sub.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND...")


def handle_run(session: Session, options: Options) -> None:
    command = list(options["command"])
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CommandError("run needs a command: run -w WS --env ENV -- COMMAND [ARGS...]")
    prefix = options["prefix"]
    if prefix and not _ENV_VAR.fullmatch(prefix):
        raise CommandError("--prefix: use letters, digits and underscores, not starting with a digit.")
    values = {prefix + key: value for key, value in resolved(session, options).items()}
    kept = sorted(name for name in values if name in os.environ)
    if session.verbosity >= 2:
        count = len(values) - len(kept)
        session.info("run: " + ngettext("%d variable", "%d variables", count) % count + " from secretvault.")
        if kept:
            session.info(f"run: already set, kept: {', '.join(kept)}")
    # Variables already set win over the vault's.
    child_env = {**values, **os.environ}
    del values
    _release_connections()
    session.stdout.flush()
    session.stderr.flush()
    try:
        completed = subprocess.run(command, env=child_env, check=False)  # noqa: S603 (the user's own command)
    except FileNotFoundError:
        raise CommandError(f"command not found: {command[0]}", returncode=127) from None
    except PermissionError:
        raise CommandError(f"permission denied: {command[0]}", returncode=126) from None
    except OSError as exc:
        raise CommandError(f"cannot run {command[0]}: {exc.strerror or exc}", returncode=126) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    code = completed.returncode
    if code < 0:  # killed by a signal: report it as a shell does
        code = 128 - code
    if code:
        raise SystemExit(code)


def _release_connections() -> None:
    """Close idle database connections before waiting on a possibly long-lived child.

    A connection inside a transaction (a caller's ``atomic()``, a test case) is
    left alone.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
