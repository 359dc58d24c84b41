"""``token create|list|revoke``: service tokens.

The raw token is printed once, as the last line of ``token create``; nothing
else ever shows it, not even when it is pasted into ``token revoke``.
"""

from __future__ import annotations

import json
import re

from django.core.management.base import CommandError

from secretvault import crypto, services
from secretvault.conf import CONSTANTS, vault_settings
from secretvault.models import ServiceToken

from .output import scope_label, table, token_metadata, token_state, when
from .parsing import Subcommands
from .session import Options, Session, expiry

_TOKEN_ID = re.compile(rf"[0-9a-f]{{{CONSTANTS['TOKEN_ID_LENGTH']}}}")


def register(commands: Subcommands) -> None:
    tokens = commands.group("token", "create, list or revoke service tokens")
    sub = tokens.add(
        "create",
        "Create a service token; the raw token is the last line.",
        handle_create,
        *commands.in_workspace,
    )
    sub.add_argument("--name", required=True)
    sub.add_argument("--description", default="")
    sub.add_argument("--env", action="append", default=[], metavar="ENV", help="reachable environment")
    sub.add_argument("--scope", action="append", default=[], metavar="TAG", help="reachable app tag")
    sub.add_argument("--write", action="store_true", help="allow writes (default: read-only)")
    sub.add_argument("--expires", metavar="WHEN", help="30d, 12h, 15m, 2w, 1y, Unix seconds, ISO 8601")
    sub = tokens.add(
        "list", "List service tokens (never their secrets).", handle_list, *commands.in_workspace
    )
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = tokens.add(
        "revoke", "Revoke a service token at once, for good.", handle_revoke, *commands.in_workspace
    )
    sub.add_argument("token_id", metavar="TOKEN_ID")


def handle_create(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    token, raw = services.create_token(
        workspace,
        name=options["name"],
        description=options["description"],
        envs=options["env"],
        scope=options["scope"],
        can_write=options["write"],
        expires_at=expiry(options["expires"]),
        actor=session.actor(options),
    )
    session.stdout.write(
        f"Created service token {token.token_id} ({token.name}) in workspace {workspace.slug}: "
        f"{'read-write' if token.can_write else 'read-only'}, envs {scope_label(token.env_slugs())}, "
        f"scope {scope_label(token.scope)}, expires {when(token.expires_at, 'never')}."
    )
    session.stdout.write("The token follows; it is shown only this once.")
    session.stdout.write(raw)


def handle_list(session: Session, options: Options) -> None:
    workspace = session.workspace(options, "view_servicetoken")
    tokens = ServiceToken.objects.filter(workspace=workspace).prefetch_related("envs").order_by("-created_at")
    if options["json"]:
        session.stdout.write(json.dumps([token_metadata(t) for t in tokens], indent=2))
        return
    rows = [
        (
            t.token_id,
            t.name,
            "read-write" if t.can_write else "read",
            scope_label(t.env_slugs()),
            scope_label(t.scope),
            when(t.created_at),
            when(t.last_used_at, "never"),
            when(t.expires_at, "never"),
            token_state(t),
        )
        for t in tokens
    ]
    if not rows:
        session.stdout.write(f"No service tokens in workspace {workspace.slug}.")
        return
    session.stdout.write(
        table(
            ("TOKEN_ID", "NAME", "ACCESS", "ENVS", "SCOPE", "CREATED", "LAST_USED", "EXPIRES", "STATE"), rows
        )
    )


def handle_revoke(session: Session, options: Options) -> None:
    # Required before the lookup: whether a token id exists is not told to those who cannot revoke.
    workspace = session.workspace(options, "revoke_servicetoken")
    given: str = options["token_id"].strip()
    # A pasted raw token works too; it is never echoed back.
    parsed = crypto.parse_token(given, vault_settings.TOKEN_PREFIX)
    token_id = parsed[0] if parsed else given
    token = ServiceToken.objects.filter(workspace=workspace, token_id=token_id).first()
    if token is None:
        shown = f" {token_id!r}" if _TOKEN_ID.fullmatch(token_id) else ""
        raise CommandError(
            f"no service token{shown} in workspace {workspace.slug!r} "
            "(give the TOKEN_ID that 'token list' shows)."
        )
    if services.revoke_token(token, actor=session.actor(options)):
        session.stdout.write(f"Revoked service token {token.token_id} ({token.name}).")
    else:
        session.stdout.write(f"Service token {token.token_id} ({token.name}) was already revoked.")
