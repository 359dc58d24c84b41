"""Which modules make up ``manage.py secretvault``, and how a parsed command runs.

Each module in :data:`MODULES` has ``register(commands: Subcommands)``; the
order of :data:`MODULES` is the order of ``--help``. A new group is one new
module and one new entry here (see the package docstring).
"""

from __future__ import annotations

from importlib import import_module

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from secretvault.errors import SecretVaultError

from .parsing import Subcommands
from .session import Options, Session

#: Group modules of ``secretvault.cli``, in ``--help`` order.
MODULES: tuple[str, ...] = (
    "workspaces",  # workspace create|list, env create|list
    "secrets",  # set, list, get, reveal, history, rollback, revoke, restore, delete, stats
    "tokens",  # token create|list|revoke
    "members",  # member add|list|remove
    "transfer",  # export, import
    "run",  # run
    "keys",  # generate-key, rotate-master-key, rotate-data-key
    "audit",  # audit verify
)


def add_subcommands(parser: CommandParser) -> None:
    """Declare every module's subcommands on the management command's parser."""
    commands = Subcommands.root(parser)
    for name in MODULES:
        import_module(f"{__package__}.{name}").register(commands)


def dispatch(session: Session, options: Options) -> None:
    """Run the parsed subcommand's handler; the core's errors become ``CommandError``.

    A ``ValidationError`` becomes its messages on one line (``field: message``),
    a ``SecretVaultError`` or ``ObjectDoesNotExist`` its text, a
    ``DatabaseError`` ``database error: ...``; all exit with status 1.
    """
    try:
        options["handler"](session, options)
    except CommandError:
        raise
    except ValidationError as exc:
        raise CommandError(validation_message(exc)) from None
    except (SecretVaultError, ObjectDoesNotExist) as exc:
        raise CommandError(str(exc)) from None
    except DatabaseError as exc:
        raise CommandError(f"database error: {exc}".strip()) from None


def validation_message(exc: ValidationError) -> str:
    """A ``ValidationError`` on one line: ``field: messages; ...`` (non-field messages bare)."""
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)
