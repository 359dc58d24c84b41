"""One secret at a time: ``set``, ``list``, ``get``, ``reveal``, ``history``,
``rollback``, ``revoke``, ``restore``, ``delete`` and ``stats``.

Only ``reveal`` prints a value (alone, on stdout, audited).
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import ngettext

from secretvault import services
from secretvault.models import Secret, TokenType

from .output import (
    envs_label,
    scope_label,
    secret_label,
    secret_metadata,
    secret_state,
    table,
    version_metadata,
    when,
)
from .parsing import Subcommands, scope_tag
from .session import Options, Session, expiry, secrets_with_envs


def register(commands: Subcommands) -> None:
    in_ws = commands.in_workspace
    sub = commands.add("set", "Create a secret, or give an existing one a new value.", handle_set, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument(
        "value", metavar="VALUE", nargs="?", help="the value; prefer --stdin (shell history, ps)"
    )
    sub.add_argument(
        "--stdin", dest="value_from_stdin", action="store_true", help="read the value from standard input"
    )
    sub.add_argument(
        "--keep-trailing-newline",
        action="store_true",
        help="with --stdin, keep the line break that ends the input (removed by default)",
    )
    sub.add_argument(
        "--env", action="append", default=[], metavar="ENV", help="serve only this environment (repeatable)"
    )
    sub.add_argument("--scope", action="append", default=None, metavar="TAG", help="app tag (repeatable)")
    sub.add_argument("--description")
    sub.add_argument("--token-type", choices=["api", "access", "none"])
    sub.add_argument("--expires", metavar="WHEN", help="30d, 12h, 15m, 2w, 1y, Unix seconds, ISO 8601, never")

    sub = commands.add("list", "List secrets (metadata only).", handle_list, *in_ws)
    sub.add_argument("--env", help="global secrets and those of this environment")
    sub.add_argument("--scope", type=scope_tag, metavar="TAG", help="unscoped secrets and those tagged TAG")
    sub.add_argument("--state", choices=["active", "expired", "revoked"])
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = commands.add("get", "Show a secret's metadata (never its value).", handle_get, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument("--env", help="the secret serving this environment")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = commands.add("reveal", "Print a secret's value, alone, on stdout (audited).", handle_reveal, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument("--env", help="the secret serving this environment")

    sub = commands.add("history", "List a secret's versions (no values).", handle_history, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument("--env", help="the secret serving this environment")
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = commands.add("rollback", "Write a new version holding VERSION's value.", handle_rollback, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument("version", metavar="VERSION", type=int)
    sub.add_argument("--env", help="the secret serving this environment")
    sub.add_argument(
        "--expected-version",
        type=int,
        metavar="N",
        help="check-and-set: refuse unless N is the current version",
    )

    for name, summary, handler in (
        ("revoke", "Disable a secret without deleting it.", handle_revoke),
        ("restore", "Re-enable a revoked secret.", handle_restore),
    ):
        sub = commands.add(name, summary, handler, *in_ws)
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("--env", help="the secret serving this environment")

    sub = commands.add("delete", "Delete a secret and all its versions, for good.", handle_delete, *in_ws)
    sub.add_argument("key", metavar="KEY")
    sub.add_argument("--env", help="the secret serving this environment")
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    sub = commands.add(
        "stats",
        "Count secrets: total, active, expired, expiring soon, revoked.",
        handle_stats,
        *in_ws,
    )
    sub.add_argument("--json", action="store_true", help="print JSON")


def handle_set(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    actor = session.actor(options)
    key = options["key"]
    envs = session.check_envs(workspace, options["env"], options, "add_secret")
    value = new_value(session, options)
    changes: dict[str, Any] = {}
    if options["description"] is not None:
        changes["description"] = options["description"]
    if options["token_type"] is not None:
        chosen = options["token_type"]
        changes["token_type"] = TokenType.NONE if chosen == "none" else chosen
    if options["scope"] is not None:
        changes["scope"] = options["scope"]
    if options["expires"] is not None:
        changes["expires_at"] = expiry(options["expires"])

    existing = secrets_with_envs(workspace, [key], envs, actor).get(key)
    if existing is None:
        if value is None:
            raise CommandError(f"{key} does not exist yet: give a VALUE or --stdin.")
        secret = services.create_secret(workspace, key=key, value=value, envs=envs, actor=actor, **changes)
        session.stdout.write(f"Created {secret_label(secret)}, version {secret.current_version}.")
        return
    if value is None and not changes:
        raise CommandError("nothing to change: give a VALUE, --stdin or metadata options.")
    if value is not None:
        changes["value"] = value
    before = existing.current_version
    services.update_secret(existing, actor=actor, **changes)
    if existing.current_version != before:
        session.stdout.write(f"Updated {secret_label(existing)}, version {existing.current_version}.")
    elif value is not None:
        session.stdout.write(
            f"{secret_label(existing)} already holds this value; still version {existing.current_version}."
        )
    else:
        session.stdout.write(f"Updated the metadata of {secret_label(existing)}.")


def new_value(session: Session, options: Options) -> str | None:
    """The value ``set`` was given: the argument, stdin, or a hidden prompt on a terminal."""
    if options["value_from_stdin"] and options["value"] is not None:
        raise CommandError("give the value as an argument or with --stdin, not both.")
    if not options["value_from_stdin"]:
        value: str | None = options["value"]
        return value
    if session.stdin.isatty():
        return getpass.getpass(f"Value for {options['key']}: ")
    text = session.read_stdin()
    if not options["keep_trailing_newline"]:
        text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    return text


def handle_list(session: Session, options: Options) -> None:
    """The secrets the ``--actor`` sees (``view_secret``; SPEC §9), metadata only."""
    workspace = session.workspace(options, "view_secret")
    session.check_envs(workspace, [options["env"]], options)
    secrets = Secret.objects.filter(workspace=workspace).select_related("workspace").with_env_slugs()
    secrets = session.reach(workspace, options).filter_secrets(secrets)
    if options["env"]:
        secrets = secrets.for_env(options["env"])
    if options["scope"]:
        secrets = secrets.for_scope(options["scope"])
    if options["state"]:
        secrets = getattr(secrets, options["state"])()
    secrets = secrets.order_by("key", "created_at")
    if options["json"]:
        session.stdout.write(json.dumps([secret_metadata(s) for s in secrets], indent=2))
        return
    rows = [
        (
            s.key,
            envs_label(s.env_slugs()),
            scope_label(s.scope),
            s.token_type or "-",
            s.current_version,
            when(s.expires_at),
            secret_state(s),
        )
        for s in secrets
    ]
    if not rows:
        session.stdout.write("No secrets.")
        return
    session.stdout.write(table(("KEY", "ENVS", "SCOPE", "TYPE", "VERSION", "EXPIRES", "STATE"), rows))


def handle_get(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options, "view_secret"), options)
    data = secret_metadata(secret)
    if options["json"]:
        session.stdout.write(json.dumps(data, indent=2))
        return
    rows = [
        ("key", secret.key),
        ("workspace", data["workspace"]),
        ("envs", envs_label(data["envs"])),
        ("scope", scope_label(data["scope"])),
        ("token_type", secret.token_type or "-"),
        ("description", secret.description or "-"),
        ("version", secret.current_version),
        ("expires_at", when(secret.expires_at, "never")),
        ("state", secret_state(secret)),
        ("created_at", when(secret.created_at)),
        ("updated_at", when(secret.updated_at)),
        ("id", data["id"]),
    ]
    width = max(len(name) for name, _ in rows)
    session.stdout.write("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))


def handle_reveal(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options), options)
    value = services.reveal(secret, actor=session.actor(options))
    if not secret.is_active():
        session.info(f"warning: {secret_label(secret)} is {secret_state(secret)}.")
    session.stdout.write(value + "\n", ending="")


def handle_history(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options, "view_secret"), options)
    versions = secret.versions.select_related("created_by", "created_by_token").order_by("-version")
    data = [version_metadata(v) for v in versions]
    if options["json"]:
        session.stdout.write(json.dumps(data, indent=2))
        return
    rows = [
        (
            ("*" if v["version"] == secret.current_version else " ") + str(v["version"]),
            v["action"],
            v["source_version"] or "-",
            v["created_by"] or (f"token:{v['token_id']}" if v["token_id"] else "system"),
            when(version.created_at),
        )
        for v, version in zip(data, versions, strict=True)
    ]
    session.stdout.write(table((" VERSION", "ACTION", "FROM", "BY", "CREATED"), rows))


def handle_rollback(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options), options)
    services.rollback(
        secret, options["version"], actor=session.actor(options), expected_version=options["expected_version"]
    )
    session.stdout.write(
        f"Rolled {secret_label(secret)} back to version {options['version']}: "
        f"now version {secret.current_version}."
    )


def handle_revoke(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options), options)
    if services.revoke_secret(secret, actor=session.actor(options)):
        session.stdout.write(f"Revoked {secret_label(secret)}.")
    else:
        session.stdout.write(f"{secret_label(secret)} was already revoked.")


def handle_restore(session: Session, options: Options) -> None:
    secret = session.secret(session.workspace(options), options)
    if services.restore_secret(secret, actor=session.actor(options)):
        session.stdout.write(f"Restored {secret_label(secret)}.")
    else:
        session.stdout.write(f"{secret_label(secret)} was not revoked.")


def handle_delete(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    actor = session.actor(options)
    secret = session.secret(workspace, options)
    label = secret_label(secret)
    # Refused before the question is asked, not after it is answered.
    session.reach(workspace, options).check_secret(secret, "delete_secret")
    if not options["yes"]:
        count = secret.versions.count()
        question = ngettext(
            "Delete secret %(key)s and its %(count)d version? [y/N] ",
            "Delete secret %(key)s and all %(count)d versions? [y/N] ",
            count,
        )
        session.confirm(question % {"key": secret.key, "count": count})
    services.delete_secret(secret, actor=actor)
    session.stdout.write(f"Deleted {label}.")


def handle_stats(session: Session, options: Options) -> None:
    """Counts of the secrets the ``--actor`` sees (as the API's ``stats``)."""
    workspace = session.workspace(options, "view_secret")
    secrets = session.reach(workspace, options).filter_secrets(Secret.objects.filter(workspace=workspace))
    counts = secrets.counts()
    if options["json"]:
        session.stdout.write(json.dumps(counts, indent=2))
        return
    session.stdout.write(table(("STATE", "SECRETS"), list(counts.items())))
