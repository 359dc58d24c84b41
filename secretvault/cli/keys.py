"""``generate-key``, ``rotate-master-key`` and ``rotate-data-key`` (docs/operations.md)."""

from __future__ import annotations

from secretvault import bulk, crypto
from secretvault.errors import MasterKeyError

from .parsing import Subcommands
from .session import Options, Session


def register(commands: Subcommands) -> None:
    commands.add(
        "generate-key", "Print a new master key (needs no database and no key).", handle_generate_key
    )

    sub = commands.add(
        "rotate-master-key",
        "Re-wrap every data key under the keyring's first key.",
        handle_rotate_master_key,
        commands.actor,
    )
    sub.add_argument("--dry-run", action="store_true", help="count, write nothing")

    sub = commands.add(
        "rotate-data-key",
        "Re-encrypt a workspace's values under a new data key.",
        handle_rotate_data_key,
        *commands.in_workspace,
    )
    sub.add_argument("--dry-run", action="store_true", help="count, write nothing")


def handle_generate_key(session: Session, options: Options) -> None:
    """Print a new master key; the hint on stderr fits a first install or a rotation."""
    try:
        crypto.get_keyring()
    except MasterKeyError:  # none configured yet (or unreadable): a first install
        session.info(
            "Your first master key. Set SECRETVAULT_MASTER_KEYS to it (or put it in "
            "SECRETVAULT['MASTER_KEYS']), then run 'manage.py check' and 'manage.py migrate'. "
            "Store a copy safely: without it nothing can be decrypted."
        )
    else:
        session.info(
            "A new master key for a rotation: put it first in SECRETVAULT['MASTER_KEYS'] "
            "(SECRETVAULT_MASTER_KEYS), keep the old keys after it, then run 'rotate-master-key'. "
            "Store a copy safely: without it nothing can be decrypted."
        )
    session.stdout.write(crypto.generate_master_key())


def handle_rotate_master_key(session: Session, options: Options) -> None:
    active = crypto.get_keyring().active.key_id

    def progress(done: int, total: int) -> None:
        session.info(f"rotate-master-key: {done}/{total} workspaces")

    count = bulk.rotate_master_key(
        actor=session.actor(options), progress=progress, dry_run=options["dry_run"]
    )
    verb = "Would re-wrap" if options["dry_run"] else "Re-wrapped"
    session.stdout.write(f"{verb} {count} workspace data key(s) under master key {active}.")


def handle_rotate_data_key(session: Session, options: Options) -> None:
    workspace = session.workspace(options)

    def progress(done: int, total: int) -> None:
        session.info(f"rotate-data-key: {done}/{total} versions")

    count = bulk.rotate_data_key(
        workspace, actor=session.actor(options), progress=progress, dry_run=options["dry_run"]
    )
    if options["dry_run"]:
        session.stdout.write(f"Would re-encrypt {count} version(s) of workspace {workspace.slug}.")
    else:
        session.stdout.write(
            f"Re-encrypted {count} version(s) of workspace {workspace.slug} "
            f"under data key {workspace.data_key_id}."
        )
