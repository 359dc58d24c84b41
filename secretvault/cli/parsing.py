"""The argparse plumbing every subcommand shares.

A group module receives a :class:`Subcommands` and declares its subcommands
with :meth:`Subcommands.add` (a leaf with a handler) or
:meth:`Subcommands.group` (``NAME ACTION ...``, such as ``token create``).
Every leaf accepts Django's own options after the subcommand too.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser

from secretvault.validators import validate_scope_tag

from .session import Options, Session

Handler = Callable[[Session, Options], None]

_NEGATIVE_NUMBER = re.compile(r"-\d+|-\d*\.\d+")
_DASHES = "\x00--"


class OptionsAnywhereParser(CommandParser):
    """A subcommand's parser: options may come before or after its positional arguments,
    and everything after ``--`` is positional (SPEC §8).

    argparse alone assigns positionals greedily at the first one it meets, so
    ``set KEY -w WS VALUE`` left ``VALUE`` unrecognised and ``set KEY -w WS -- -1``
    failed the same way. Before parsing, the arguments are put in the order argparse
    reads without surprise -- options with their arguments first, then ``--``, then
    the positionals in their original order, then what followed the user's ``--``.
    A parser with sub-actions (``token ACTION``) or a pass-through ``REMAINDER``
    (``run -- COMMAND...``) is left as argparse reads it: there the first
    positional starts what is passed on, untouched.
    """

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if args is None or self._passes_arguments_on():
            return super().parse_known_args(args, namespace)
        parsed, extras = super().parse_known_args(self._options_first(list(args)), namespace)
        for action in self._positionals._group_actions:  # the stand-ins back to "--"
            value = getattr(parsed, action.dest, None)
            if value == _DASHES:
                setattr(parsed, action.dest, "--")
            elif isinstance(value, list):
                setattr(parsed, action.dest, ["--" if item == _DASHES else item for item in value])
        return parsed, extras

    def _passes_arguments_on(self) -> bool:
        return any(
            action.nargs in (argparse.PARSER, argparse.REMAINDER)
            for action in self._positionals._group_actions
        )

    def _option_arity(self, arg: str) -> tuple[bool, int]:
        """``(is an option, how many following arguments it takes)`` for ``arg``."""
        if arg == "-" or (_NEGATIVE_NUMBER.fullmatch(arg) and not self._has_negative_number_optionals):
            return False, 0
        name, attached, _ = arg.partition("=")
        action = self._option_string_actions.get(name)
        if action is None and arg.startswith("--"):
            matches = {a for option, a in self._option_string_actions.items() if option.startswith(name)}
            action = matches.pop() if len(matches) == 1 else None
        if action is None and not arg.startswith("--") and len(arg) > 2:
            action = self._option_string_actions.get(arg[:2])  # -wWS, -v2
            attached = "x" if action is not None and action.nargs != 0 else attached
        if action is None or attached or action.nargs == 0:
            return True, 0  # unknown (argparse reports it), a flag, or "--opt=value"
        if action.nargs is None or action.nargs == argparse.OPTIONAL:
            return True, 1
        return True, action.nargs if isinstance(action.nargs, int) else 1

    def _options_first(self, args: list[str]) -> list[str]:
        options: list[str] = []
        positionals: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                break
            is_option, arity = self._option_arity(arg) if arg.startswith("-") else (False, 0)
            if not is_option:
                positionals.append(arg)
                i += 1
                continue
            # An option and its arguments; "--" is never taken as one ("-w --": argparse
            # then reports that -w lacks its argument).
            end = i + 1
            while end < len(args) and end - i <= arity and args[end] != "--":
                end += 1
            options.extend(args[i:end])
            i = end
        rest = args[i + 1 :]
        if positionals or rest:
            # A positional "--" (a value) would be dropped by some Python versions'
            # argparse after the first "--": it travels as a stand-in holding NUL,
            # which no real command-line argument can contain.
            return [*options, "--", *(_DASHES if arg == "--" else arg for arg in [*positionals, *rest])]
        return options


def scope_tag(text: str) -> str:
    """An argparse ``type`` for a ``--scope TAG`` filter: the tag rule of every door (SPEC §1)."""
    try:
        validate_scope_tag(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"{text[:60]!r} is not a scope tag: {validate_scope_tag.message}"
        ) from None
    return text


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
    ``actor`` the one adding ``--actor USERNAME``; ``in_workspace`` is both, for
    every subcommand inside a workspace (reads included: with ``--actor`` each asks
    the reach rule, SPEC §9; tests/access/test_cli_actor.py walks the parser to
    check that every subcommand but ``generate-key`` takes ``--actor``).
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
        commands = parser.add_subparsers(
            dest="subcommand", metavar="SUBCOMMAND", required=True, parser_class=OptionsAnywhereParser
        )
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
