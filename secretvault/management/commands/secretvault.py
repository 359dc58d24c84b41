"""``manage.py secretvault SUBCOMMAND ...``: the command-line door into secretvault.

Only the entry point: the subcommands live in :mod:`secretvault.cli`, one
module per group (see that package's docstring to add one). An error is one
line on stderr (``secretvault: error: ...``) with exit status 1 (2 for a usage
error), never a traceback. Values are printed only by ``reveal`` and
``export`` and handed only to ``run``'s child; a raw token only on the last
line of ``token create``. See docs/cli.md.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secretvault.cli import registry
from secretvault.cli.session import Session


class Command(BaseCommand):
    help = "Manage secretvault workspaces, secrets and service tokens (see docs/cli.md)."
    # generate-key must work before a master key is configured and before migrations.
    requires_system_checks: list[str] = []
    # call_command(..., input_stream=...) reads from that stream instead of sys.stdin.
    stealth_options = ("input_stream",)

    def add_arguments(self, parser: CommandParser) -> None:
        registry.add_subcommands(parser)

    def run_from_argv(self, argv: list[str]) -> None:
        """``manage.py secretvault ...``; a reader that went away ends the command quietly.

        ``reveal KEY | head -c0`` (or ``| true``) closes the pipe: the rest of the
        output is dropped, nothing is printed (no traceback), and the exit status is 1.
        """
        try:
            super().run_from_argv(argv)
            sys.stdout.flush()  # inside the try: a small output meets the closed pipe here
        except BrokenPipeError:
            _drop_stdout()
            sys.exit(1)

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if not getattr(self, "_called_from_command_line", False) or options.get("traceback"):
                raise
            message = " ".join(str(exc).split("\n"))
            self.stderr.write(f"secretvault: error: {message}")
            sys.exit(exc.returncode)

    def handle(self, *args: Any, **options: Any) -> None:
        session = Session(
            self.stdout,
            self.stderr,
            verbosity=options.get("verbosity", 1),
            input_stream=options.get("input_stream"),
        )
        registry.dispatch(session, options)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout
        pass
