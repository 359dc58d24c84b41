"""``run -w WS --env ENV [--watch] -- COMMAND ...``: a child process with the resolved secrets.

What the child is handed (issue #17.1, #17.2; docs/security.md):

- the environment this process was *started* with — not ``os.environ``, into
  which the project's settings may have loaded a ``.env`` holding the vault's
  own ``SECRET_KEY``, ``DATABASE_URL`` or master keys — minus every
  ``SECRETVAULT_*`` variable (the vault's configuration). Where the start
  environment cannot be read (no ``/proc``), ``os.environ`` minus ``SECRETVAULT_*``;
- plus the resolved secrets, by the rule of ``secretvault_client.childenv``:
  variables already set win, and names that change how programs start
  (``PATH``, ``LD_*``, ``BASH_ENV``, ``PYTHON*`` …) or ``SECRETVAULT_*`` are
  skipped with a warning unless ``--allow-name NAME``.

The child runs under ``secretvault_client.process`` (the same supervisor as the
client's ``secretvault run``): signals are forwarded, the exit status is the
child's (128 + N when signal N killed it; 127 command not found, 126 not
executable). ``--watch`` checks every ``--interval`` seconds whether the map
changed (by its ETag: no decryption and no audit event when nothing did) and
restarts the child or signals it (``--on-change``).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping

from django.core.management.base import CommandError
from django.db import connections
from django.utils.translation import ngettext

from secretvault import services
from secretvault.audit import Actor
from secretvault.errors import AccessDeniedError
from secretvault.managers import ResolvedSecret
from secretvault.models import Secret, Workspace
from secretvault_client import childenv, process
from secretvault_client.cli import add_run_options

from .parsing import Subcommands, scope_tag
from .session import Options, Session

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def register(commands: Subcommands) -> None:
    sub = commands.add(
        "run", "Run COMMAND with the resolved secrets in its environment.", handle_run, *commands.in_workspace
    )
    sub.add_argument("--env", required=True)
    sub.add_argument("--scope", type=scope_tag, metavar="TAG", help="only what an app tagged TAG sees")
    add_run_options(sub)
    sub.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND...")


def base_environment() -> dict[str, str]:
    """What the child starts from: this process's start environment, without ``SECRETVAULT_*``."""
    started = childenv.start_environment()
    return childenv.without_vault_configuration(started if started is not None else os.environ)


def handle_run(session: Session, options: Options) -> None:
    command = list(options["command"])
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CommandError("run needs a command: run -w WS --env ENV -- COMMAND [ARGS...]")
    prefix = options["prefix"]
    if prefix and not _ENV_VAR.fullmatch(prefix):
        raise CommandError("--prefix: use letters, digits and underscores, not starting with a digit.")
    for name in options["allow_name"]:
        if not _ENV_VAR.fullmatch(name):
            raise CommandError(f"--allow-name {name[:60]!r} is not an environment variable name.")
    workspace = session.workspace(options)
    session.check_envs(workspace, [options["env"]], options, "reveal_secret")
    actor = session.actor(options)
    # The reach rule of a load (SPEC §9): the child gets only what --actor may load.
    env: str = options["env"]
    scope = services.load_target(workspace, env, options["scope"], actor)[1]
    base = base_environment()

    def child_environ(values: Mapping[str, str]) -> dict[str, str]:
        made = childenv.child_environment(values, base, prefix=prefix, allow=options["allow_name"])
        if session.verbosity >= 2:
            count = len(made.injected)
            variables = ngettext("%d variable", "%d variables", count) % count
            session.info(f"run: {variables} from secretvault.")
            if made.kept:
                session.info(f"run: already set, kept: {', '.join(made.kept)}")
        if made.refused:
            session.stderr.write(f"secretvault: warning: {childenv.refusal_message(made.refused)}")
        return made.environ

    def current_etag() -> str:
        # The API's validator (SPEC §10), one query: read before the secrets, so a write in
        # between costs a spare check, never a missed change.
        state = services.load_state(workspace, env=env)
        return services.load_etag(workspace, state, env=env, scope=scope)

    etag = current_etag()
    resolved = Secret.objects.resolve(workspace, env=env, scope=scope)
    fingerprint = services.resolved_fingerprint(resolved)
    environment = child_environ(_decrypt_and_record(workspace, resolved, env, actor))

    def next_environ() -> dict[str, str] | None:
        nonlocal etag, fingerprint, scope
        try:
            # The actor's reach is asked again on every check (it may have been revoked).
            scope = services.load_target_now(workspace, env, options["scope"], actor)[1]
            latest_etag = current_etag()
            if latest_etag == etag:
                return None
            latest = Secret.objects.resolve(workspace, env=env, scope=scope)
            latest_fingerprint = services.resolved_fingerprint(latest)
            if latest_fingerprint == fingerprint:
                # Something was written (metadata, another environment): not this map.
                etag = latest_etag
                return None
            values = _decrypt_and_record(workspace, latest, env, actor)
        except AccessDeniedError as exc:
            session.stderr.write(
                f"secretvault: warning: no longer allowed to load (the command keeps running): {exc}"
            )
            return None
        except Exception as exc:  # noqa: BLE001 (the database may be briefly away; the child keeps running)
            session.stderr.write(
                f"secretvault: warning: could not check for changed secrets (the command keeps running): "
                f"{type(exc).__name__}"
            )
            return None
        finally:
            _release_connections()
        fingerprint = latest_fingerprint
        etag = latest_etag
        return child_environ(values)

    _release_connections()
    session.stdout.flush()
    session.stderr.flush()
    try:
        if options["watch"]:
            status = process.run_watching(
                command,
                environment,
                next_environ,
                interval=options["interval"],
                on_change=options["on_change"],
                notice=lambda message: session.stderr.write(f"secretvault: notice: {message}"),
            )
        else:
            status = process.run(command, environment)
    except FileNotFoundError:
        raise CommandError(f"command not found: {command[0]}", returncode=127) from None
    except PermissionError:
        raise CommandError(f"permission denied: {command[0]}", returncode=126) from None
    except OSError as exc:
        raise CommandError(f"cannot run {command[0]}: {exc.strerror or exc}", returncode=126) from None
    if status:
        raise SystemExit(status)


def _decrypt_and_record(
    workspace: Workspace, resolved: Mapping[str, ResolvedSecret], env: str, actor: Actor
) -> dict[str, str]:
    """Decrypt a resolved map and audit the read as ``secrets.load`` (as ``services.load`` does)."""
    values = services.decrypt_resolved(workspace, resolved)
    services.record_load(workspace, resolved, env=env, actor=actor)
    return values


def _release_connections() -> None:
    """Close idle database connections before waiting on a possibly long-lived child.

    A connection inside a transaction (a caller's ``atomic()``, a test case) is
    left alone.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
