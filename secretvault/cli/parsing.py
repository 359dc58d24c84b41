"""The argparse plumbing every subcommand shares.

A group module receives a :class:`Subcommands` and declares its subcommands
with :meth:`Subcommands.add` (a leaf with a handler) or
:meth:`Subcommands.group` (``NAME ACTION ...``, such as ``token create``).
Every leaf accepts Django's own options after the subcommand too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from .session import Options, Session

Handler = Callable[[Session, Options], None]


def django_options() -> argparse.ArgumentParser:
    """Django's own options, accepted after the subcommand as well as before it."""
    parser = argparse.ArgumentParser(add_help=False)
    hidden: Any = argparse.SUPPRESS
    parser.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=hidden, help=hidden)
    parser.add_argument("--settings", default=hidden, help=hidden)
    parser.add_argument("--pythonpath", default=hidden, help=hidden)
    parser.add_argument("--traceback", action="store_true", default=hidden, help=hidden)
    parser.add_argument("--no-color", action="store_true", default=hidden, help=hidden)
    parser.add_argument("--force-color", action="store_true", default=hidden, help=hidden)
    return parser


class Subcommands:
    """One level of subcommands being declared (``SUBCOMMAND``, or a group's ``ACTION``).

    ``workspace`` is the parent parser adding a required ``-w/--workspace WS``,
    ``actor`` the one adding ``--actor USERNAME``; ``in_workspace`` is both,
    for subcommands that write or read values.
    """

    def __init__(
        self,
        action: Any,
        *,
        django: argparse.ArgumentParser,
        workspace: argparse.ArgumentParser,
        actor: argparse.ArgumentParser,
    ) -> None:
        self._action = action
        self.django = django
        self.workspace = workspace
        self.actor = actor
        self.in_workspace = (workspace, actor)

    @classmethod
    def root(cls, parser: CommandParser) -> Subcommands:
        """The top level of ``manage.py secretvault``, with fresh shared parents."""
        workspace = argparse.ArgumentParser(add_help=False)
        workspace.add_argument("-w", "--workspace", required=True, metavar="WS", help="workspace slug")
        actor = argparse.ArgumentParser(add_help=False)
        actor.add_argument(
            "--actor",
            metavar="USERNAME",
            help="record this user in versions and the audit trail (default: a system action)",
        )
        commands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        return cls(commands, django=django_options(), workspace=workspace, actor=actor)

    def add(
        self, name: str, summary: str, handler: Handler, *parents: argparse.ArgumentParser
    ) -> CommandParser:
        """Declare subcommand ``name`` run by ``handler``; add its own arguments to the result."""
        sub: CommandParser = self._action.add_parser(
            name, help=summary, description=summary, parents=[self.django, *parents]
        )
        sub.set_defaults(handler=handler)
        return sub

    def group(self, name: str, summary: str) -> Subcommands:
        """Declare ``name ACTION ...``; declare the actions on the result."""
        group = self._action.add_parser(name, help=summary)
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        return Subcommands(actions, django=self.django, workspace=self.workspace, actor=self.actor)
