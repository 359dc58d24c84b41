"""``manage.py secretvault SUBCOMMAND ...``: the command-line door into secretvault.

Thin on purpose: it parses arguments, finds the objects they name, calls
``secretvault.services`` and formats the answer; the rules live in services.
An error is one line on stderr (``secretvault: error: ...``) with exit status 1
(2 for a usage error), never a traceback. Values are printed only by
``reveal`` and ``export`` and handed only to ``run``'s child; a raw token only
on the last line of ``token create``. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections, transaction
from django.db.models import Count

from secretvault import crypto, dotenv, services
from secretvault.audit import Actor
from secretvault.conf import CONSTANTS, vault_settings
from secretvault.durations import ExpiryError, parse_expiry
from secretvault.errors import AmbiguousSecretError, SecretVaultError
from secretvault.models import Secret, SecretVersion, ServiceToken, TokenType, VersionAction, Workspace
from secretvault.validators import validate_key, validate_value

Options = dict[str, Any]

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_ID = re.compile(rf"[0-9a-f]{{{CONSTANTS['TOKEN_ID_LENGTH']}}}")


def _plain(text: str) -> str:
    """Style function for informational stderr output (stderr is red by default)."""
    return text


def _when(moment: dt.datetime | None, empty: str = "-") -> str:
    if moment is None:
        return empty
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def _envs_label(slugs: Sequence[str]) -> str:
    return ",".join(slugs) if slugs else "(global)"


def _scope_label(tags: Sequence[str]) -> str:
    return ",".join(tags) if tags else "(all)"


def _secret_label(secret: Secret) -> str:
    envs = secret.env_slugs()
    return f"{secret.key} ({'env ' + ','.join(envs) if envs else 'global'})"


def _secret_state(secret: Secret) -> str:
    if secret.is_revoked:
        return "revoked"
    if secret.is_expired():
        return "expired"
    if secret.is_expiring_soon():
        return "expiring soon"
    return "active"


def _token_state(token: ServiceToken) -> str:
    if token.is_revoked:
        return "revoked"
    if token.is_expired():
        return "expired"
    return "active"


def secret_metadata(secret: Secret) -> dict[str, Any]:
    """A secret's metadata exactly as the REST API shows it; never the value."""
    from secretvault.api.serializers import SecretSerializer

    return dict(SecretSerializer(secret).data)


def version_metadata(version: SecretVersion) -> dict[str, Any]:
    from secretvault.api.serializers import SecretVersionSerializer

    return dict(SecretVersionSerializer(version).data)


def token_metadata(token: ServiceToken) -> dict[str, Any]:
    """A token's metadata as the REST API shows it; never its secret part or digest."""
    from secretvault.api.serializers import ServiceTokenSerializer

    return dict(ServiceTokenSerializer(token).data)


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _expiry(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return parse_expiry(text)
    except ExpiryError as exc:
        raise CommandError(f"--expires: {exc}") from None


def _django_options() -> argparse.ArgumentParser:
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


class Command(BaseCommand):
    help = "Manage secretvault workspaces, secrets and service tokens (see docs/cli.md)."
    # generate-key must work before a master key is configured and before migrations.
    requires_system_checks: list[str] = []
    # call_command(..., input_stream=...) reads from that stream instead of sys.stdin.
    stealth_options = ("input_stream",)

    # ------------------------------------------------------------------ parsing

    def add_arguments(self, parser: CommandParser) -> None:
        django_options = _django_options()
        workspace = argparse.ArgumentParser(add_help=False)
        workspace.add_argument("-w", "--workspace", required=True, metavar="WS", help="workspace slug")
        actor = argparse.ArgumentParser(add_help=False)
        actor.add_argument(
            "--actor",
            metavar="USERNAME",
            help="record this user in versions and the audit trail (default: a system action)",
        )
        in_ws = [workspace, actor]

        def add(
            subparsers: Any, name: str, summary: str, handler: Callable[[Options], None], *parents: Any
        ) -> CommandParser:
            sub: CommandParser = subparsers.add_parser(
                name, help=summary, description=summary, parents=[django_options, *parents]
            )
            sub.set_defaults(handler=handler)
            return sub

        commands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

        group = commands.add_parser("workspace", help="create or list workspaces")
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        sub = add(actions, "create", "Create a workspace.", self.handle_workspace_create, actor)
        sub.add_argument("slug", metavar="SLUG")
        sub.add_argument("--name", default="", help="display name (default: the slug)")
        add(actions, "list", "List workspaces.", self.handle_workspace_list)

        group = commands.add_parser("env", help="create or list a workspace's environments")
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        sub = add(actions, "create", "Create an environment.", self.handle_env_create, *in_ws)
        sub.add_argument("slug", metavar="SLUG")
        sub.add_argument("--name", default="", help="display name (default: the slug)")
        add(actions, "list", "List a workspace's environments.", self.handle_env_list, workspace)

        sub = add(
            commands, "set", "Create a secret, or give an existing one a new value.", self.handle_set, *in_ws
        )
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
            "--env",
            action="append",
            default=[],
            metavar="ENV",
            help="serve only this environment (repeatable)",
        )
        sub.add_argument("--scope", action="append", default=None, metavar="TAG", help="app tag (repeatable)")
        sub.add_argument("--description")
        sub.add_argument("--token-type", choices=["api", "access", "none"])
        sub.add_argument(
            "--expires", metavar="WHEN", help="30d, 12h, 15m, 2w, 1y, Unix seconds, ISO 8601, never"
        )

        sub = add(commands, "list", "List secrets (metadata only).", self.handle_list, workspace)
        sub.add_argument("--env", help="global secrets and those of this environment")
        sub.add_argument("--scope", metavar="TAG", help="unscoped secrets and those tagged TAG")
        sub.add_argument("--state", choices=["active", "expired", "revoked"])
        sub.add_argument("--json", action="store_true", help="print JSON")

        sub = add(commands, "get", "Show a secret's metadata (never its value).", self.handle_get, workspace)
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("--env", help="the secret serving this environment")
        sub.add_argument("--json", action="store_true", help="print JSON")

        sub = add(
            commands,
            "reveal",
            "Print a secret's value, alone, on stdout (audited).",
            self.handle_reveal,
            *in_ws,
        )
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("--env", help="the secret serving this environment")

        sub = add(
            commands, "history", "List a secret's versions (no values).", self.handle_history, workspace
        )
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("--env", help="the secret serving this environment")
        sub.add_argument("--json", action="store_true", help="print JSON")

        sub = add(
            commands, "rollback", "Write a new version holding VERSION's value.", self.handle_rollback, *in_ws
        )
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("version", metavar="VERSION", type=int)
        sub.add_argument("--env", help="the secret serving this environment")

        for name, summary, handler in (
            ("revoke", "Disable a secret without deleting it.", self.handle_revoke),
            ("restore", "Re-enable a revoked secret.", self.handle_restore),
        ):
            sub = add(commands, name, summary, handler, *in_ws)
            sub.add_argument("key", metavar="KEY")
            sub.add_argument("--env", help="the secret serving this environment")

        sub = add(
            commands, "delete", "Delete a secret and all its versions, for good.", self.handle_delete, *in_ws
        )
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("--env", help="the secret serving this environment")
        sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")

        sub = add(
            commands,
            "stats",
            "Count secrets: total, active, expired, expiring soon, revoked.",
            self.handle_stats,
            workspace,
        )
        sub.add_argument("--json", action="store_true", help="print JSON")

        group = commands.add_parser("token", help="create, list or revoke service tokens")
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        sub = add(
            actions,
            "create",
            "Create a service token; the raw token is the last line.",
            self.handle_token_create,
            *in_ws,
        )
        sub.add_argument("--name", required=True)
        sub.add_argument("--description", default="")
        sub.add_argument("--env", action="append", default=[], metavar="ENV", help="reachable environment")
        sub.add_argument("--scope", action="append", default=[], metavar="TAG", help="reachable app tag")
        sub.add_argument("--write", action="store_true", help="allow writes (default: read-only)")
        sub.add_argument("--expires", metavar="WHEN", help="30d, 12h, 15m, 2w, 1y, Unix seconds, ISO 8601")
        sub = add(
            actions, "list", "List service tokens (never their secrets).", self.handle_token_list, workspace
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub = add(
            actions, "revoke", "Revoke a service token at once, for good.", self.handle_token_revoke, *in_ws
        )
        sub.add_argument("token_id", metavar="TOKEN_ID")

        sub = add(
            commands, "export", "Print the secrets an environment resolves to.", self.handle_export, *in_ws
        )
        sub.add_argument("--env", required=True)
        sub.add_argument("--scope", metavar="TAG", help="only what an app tagged TAG sees")
        sub.add_argument("--format", choices=["dotenv", "json"], default="dotenv")

        sub = add(
            commands,
            "import",
            "Create or update secrets from a dotenv or JSON file.",
            self.handle_import,
            *in_ws,
        )
        sub.add_argument(
            "file", metavar="FILE", help="dotenv or JSON (.json, or text starting with '{'); - = stdin"
        )
        sub.add_argument("--env", help="import as secrets of this environment (default: global)")
        sub.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

        sub = add(
            commands,
            "run",
            "Run COMMAND with the resolved secrets in its environment.",
            self.handle_run,
            *in_ws,
        )
        sub.add_argument("--env", required=True)
        sub.add_argument("--scope", metavar="TAG", help="only what an app tagged TAG sees")
        sub.add_argument("--prefix", default="", help="prefix every variable name with this")
        sub.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND...")

        add(
            commands,
            "generate-key",
            "Print a new master key (needs no database and no key).",
            self.handle_generate_key,
        )

        sub = add(
            commands,
            "rotate-master-key",
            "Re-wrap every data key under the keyring's first key.",
            self.handle_rotate_master_key,
            actor,
        )
        sub.add_argument("--dry-run", action="store_true", help="count, write nothing")

        sub = add(
            commands,
            "rotate-data-key",
            "Re-encrypt a workspace's values under a new data key.",
            self.handle_rotate_data_key,
            *in_ws,
        )
        sub.add_argument("--dry-run", action="store_true", help="count, write nothing")

        group = commands.add_parser("audit", help="check a workspace's audit trail")
        actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
        add(
            actions,
            "verify",
            "Recompute the audit chain; exit 1 on an edited, removed or missing event.",
            self.handle_audit_verify,
            workspace,
        )

    # ---------------------------------------------------------------- execution

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
        self.verbosity: int = options.get("verbosity", 1)
        try:
            options["handler"](options)
        except CommandError:
            raise
        except ValidationError as exc:
            raise CommandError(_validation_message(exc)) from None
        except (SecretVaultError, ObjectDoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc}".strip()) from None

    def handle_audit_verify(self, options: Options) -> None:
        from secretvault.audit import verify_chain

        workspace = self.workspace(options)
        report = verify_chain(workspace)
        if not report.ok:
            for problem in report.problems:
                self.stdout.write(f"BROKEN: {problem}")
            raise CommandError(
                f"the audit chain of workspace {workspace.slug!r} is broken "
                f"({len(report.problems)} problem(s) in {report.checked} events)."
            )
        self.stdout.write(f"Audit chain of {workspace.slug} verified: {report.checked} events intact.")

    def info(self, message: str) -> None:
        """A progress or hint line on stderr, so stdout stays clean for data."""
        if self.verbosity >= 1:
            self.stderr.write(message, style_func=_plain)

    # ------------------------------------------------------------------ lookups

    def workspace(self, options: Options) -> Workspace:
        slug = options["workspace"]
        try:
            return Workspace.objects.get(slug=slug)
        except Workspace.DoesNotExist:
            raise CommandError(f"unknown workspace {slug!r}.") from None

    def actor(self, options: Options) -> Actor:
        username = options.get("actor")
        if not username:
            return Actor()
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"--actor: unknown user {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"--actor: user {username!r} is inactive.")
        return Actor(user=user)

    def check_envs(self, workspace: Workspace, slugs: Iterable[str | None]) -> list[str]:
        wanted = [slug for slug in slugs if slug]
        services.environments_by_slug(workspace, wanted)
        return sorted(set(wanted))

    def secret(self, workspace: Workspace, options: Options) -> Secret:
        """The secret ``KEY [--env E]`` names (environment-specific first, then global)."""
        key, env = options["key"], options.get("env")
        self.check_envs(workspace, [env])
        try:
            secret = services.find_secret(workspace, key, env)
        except Secret.DoesNotExist:
            where = f" serving environment {env!r}" if env else ""
            raise CommandError(f"no secret {key!r}{where} in workspace {workspace.slug!r}.") from None
        except AmbiguousSecretError:
            raise CommandError(
                f"several secrets of key {key!r} serve different environments; choose one with --env."
            ) from None
        secret.workspace = workspace
        return secret

    def read_stdin(self, options: Options) -> str:
        stream: TextIO = options.get("input_stream") or sys.stdin
        raw: str | bytes = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        if isinstance(raw, bytes):
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CommandError("standard input is not UTF-8 text.") from None
        return raw

    # ------------------------------------------------------ workspaces and envs

    def handle_workspace_create(self, options: Options) -> None:
        workspace = services.create_workspace(
            slug=options["slug"], name=options["name"], actor=self.actor(options)
        )
        self.stdout.write(f"Created workspace {workspace.slug} ({workspace.name}).")

    def handle_workspace_list(self, options: Options) -> None:
        workspaces = Workspace.objects.annotate(
            n_envs=Count("environments", distinct=True),
            n_secrets=Count("secrets", distinct=True),
            n_tokens=Count("tokens", distinct=True),
        ).order_by("slug")
        rows = [(w.slug, w.name, w.n_envs, w.n_secrets, w.n_tokens) for w in workspaces]
        if not rows:
            self.stdout.write("No workspaces.")
            return
        self.stdout.write(_table(("SLUG", "NAME", "ENVS", "SECRETS", "TOKENS"), rows))

    def handle_env_create(self, options: Options) -> None:
        workspace = self.workspace(options)
        env = services.create_environment(
            workspace, slug=options["slug"], name=options["name"], actor=self.actor(options)
        )
        self.stdout.write(f"Created environment {env.slug} ({env.name}) in workspace {workspace.slug}.")

    def handle_env_list(self, options: Options) -> None:
        workspace = self.workspace(options)
        envs = workspace.environments.order_by("slug")
        if not envs:
            self.stdout.write(f"No environments in workspace {workspace.slug}.")
            return
        self.stdout.write(_table(("SLUG", "NAME"), [(env.slug, env.name) for env in envs]))

    # ------------------------------------------------------------------ secrets

    def handle_set(self, options: Options) -> None:
        workspace = self.workspace(options)
        actor = self.actor(options)
        key = options["key"]
        envs = self.check_envs(workspace, options["env"])
        value = self.new_value(options)
        changes: dict[str, Any] = {}
        if options["description"] is not None:
            changes["description"] = options["description"]
        if options["token_type"] is not None:
            chosen = options["token_type"]
            changes["token_type"] = TokenType.NONE if chosen == "none" else chosen
        if options["scope"] is not None:
            changes["scope"] = options["scope"]
        if options["expires"] is not None:
            changes["expires_at"] = _expiry(options["expires"])

        existing = _secrets_with_envs(workspace, [key], envs).get(key)
        if existing is None:
            if value is None:
                raise CommandError(f"{key} does not exist yet: give a VALUE or --stdin.")
            secret = services.create_secret(
                workspace, key=key, value=value, envs=envs, actor=actor, **changes
            )
            self.stdout.write(f"Created {_secret_label(secret)}, version {secret.current_version}.")
            return
        if value is None and not changes:
            raise CommandError("nothing to change: give a VALUE, --stdin or metadata options.")
        if value is not None:
            changes["value"] = value
        before = existing.current_version
        services.update_secret(existing, actor=actor, **changes)
        if existing.current_version != before:
            self.stdout.write(f"Updated {_secret_label(existing)}, version {existing.current_version}.")
        elif value is not None:
            self.stdout.write(
                f"{_secret_label(existing)} already holds this value; "
                f"still version {existing.current_version}."
            )
        else:
            self.stdout.write(f"Updated the metadata of {_secret_label(existing)}.")

    def new_value(self, options: Options) -> str | None:
        if options["value_from_stdin"] and options["value"] is not None:
            raise CommandError("give the value as an argument or with --stdin, not both.")
        if not options["value_from_stdin"]:
            return options["value"]
        stream: TextIO = options.get("input_stream") or sys.stdin
        if stream.isatty():
            return getpass.getpass(f"Value for {options['key']}: ")
        value = self.read_stdin(options)
        if not options["keep_trailing_newline"]:
            value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
        return value

    def handle_list(self, options: Options) -> None:
        workspace = self.workspace(options)
        self.check_envs(workspace, [options["env"]])
        secrets = Secret.objects.filter(workspace=workspace).select_related("workspace").with_env_slugs()
        if options["env"]:
            secrets = secrets.for_env(options["env"])
        if options["scope"]:
            secrets = secrets.for_scope(options["scope"])
        if options["state"]:
            secrets = getattr(secrets, options["state"])()
        secrets = secrets.order_by("key", "created_at")
        if options["json"]:
            self.stdout.write(json.dumps([secret_metadata(s) for s in secrets], indent=2))
            return
        rows = [
            (
                s.key,
                _envs_label(s.env_slugs()),
                _scope_label(s.scope),
                s.token_type or "-",
                s.current_version,
                _when(s.expires_at),
                _secret_state(s),
            )
            for s in secrets
        ]
        if not rows:
            self.stdout.write("No secrets.")
            return
        self.stdout.write(_table(("KEY", "ENVS", "SCOPE", "TYPE", "VERSION", "EXPIRES", "STATE"), rows))

    def handle_get(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        data = secret_metadata(secret)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        rows = [
            ("key", secret.key),
            ("workspace", data["workspace"]),
            ("envs", _envs_label(data["envs"])),
            ("scope", _scope_label(data["scope"])),
            ("token_type", secret.token_type or "-"),
            ("description", secret.description or "-"),
            ("version", secret.current_version),
            ("expires_at", _when(secret.expires_at, "never")),
            ("state", _secret_state(secret)),
            ("created_at", _when(secret.created_at)),
            ("updated_at", _when(secret.updated_at)),
            ("id", data["id"]),
        ]
        width = max(len(name) for name, _ in rows)
        self.stdout.write("\n".join(f"{name.ljust(width)}  {value}" for name, value in rows))

    def handle_reveal(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        value = services.reveal(secret, actor=self.actor(options))
        if not secret.is_active():
            self.info(f"warning: {_secret_label(secret)} is {_secret_state(secret)}.")
        self.stdout.write(value + "\n", ending="")

    def handle_history(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        versions = secret.versions.select_related("created_by", "created_by_token").order_by("-version")
        data = [version_metadata(v) for v in versions]
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        rows = [
            (
                ("*" if v["version"] == secret.current_version else " ") + str(v["version"]),
                v["action"],
                v["source_version"] or "-",
                v["created_by"] or (f"token:{v['token_id']}" if v["token_id"] else "system"),
                _when(version.created_at),
            )
            for v, version in zip(data, versions, strict=True)
        ]
        self.stdout.write(_table((" VERSION", "ACTION", "FROM", "BY", "CREATED"), rows))

    def handle_rollback(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        services.rollback(secret, options["version"], actor=self.actor(options))
        self.stdout.write(
            f"Rolled {_secret_label(secret)} back to version {options['version']}: "
            f"now version {secret.current_version}."
        )

    def handle_revoke(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        if services.revoke_secret(secret, actor=self.actor(options)):
            self.stdout.write(f"Revoked {_secret_label(secret)}.")
        else:
            self.stdout.write(f"{_secret_label(secret)} was already revoked.")

    def handle_restore(self, options: Options) -> None:
        secret = self.secret(self.workspace(options), options)
        if services.restore_secret(secret, actor=self.actor(options)):
            self.stdout.write(f"Restored {_secret_label(secret)}.")
        else:
            self.stdout.write(f"{_secret_label(secret)} was not revoked.")

    def handle_delete(self, options: Options) -> None:
        workspace = self.workspace(options)
        actor = self.actor(options)
        secret = self.secret(workspace, options)
        label = _secret_label(secret)
        if not options["yes"]:
            count = secret.versions.count()
            self.confirm(options, f"Delete secret {secret.key} and all {count} versions? [y/N] ")
        services.delete_secret(secret, actor=actor)
        self.stdout.write(f"Deleted {label}.")

    def confirm(self, options: Options, question: str) -> None:
        stream: TextIO = options.get("input_stream") or sys.stdin
        if not stream.isatty():
            raise CommandError("refusing to delete without confirmation: pass --yes (no terminal to ask on).")
        self.stderr.write(question, style_func=_plain, ending="")
        self.stderr.flush()
        try:
            answer = stream.readline()
        except KeyboardInterrupt:
            answer = ""
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("aborted; nothing was deleted.")

    def handle_stats(self, options: Options) -> None:
        counts = services.stats(self.workspace(options))
        if options["json"]:
            self.stdout.write(json.dumps(counts, indent=2))
            return
        self.stdout.write(_table(("STATE", "SECRETS"), list(counts.items())))

    # ------------------------------------------------------------------- tokens

    def handle_token_create(self, options: Options) -> None:
        workspace = self.workspace(options)
        token, raw = services.create_token(
            workspace,
            name=options["name"],
            description=options["description"],
            envs=options["env"],
            scope=options["scope"],
            can_write=options["write"],
            expires_at=_expiry(options["expires"]),
            actor=self.actor(options),
        )
        self.stdout.write(
            f"Created service token {token.token_id} ({token.name}) in workspace {workspace.slug}: "
            f"{'read-write' if token.can_write else 'read-only'}, envs {_scope_label(token.env_slugs())}, "
            f"scope {_scope_label(token.scope)}, expires {_when(token.expires_at, 'never')}."
        )
        self.stdout.write("The token follows; it is shown only this once.")
        self.stdout.write(raw)

    def handle_token_list(self, options: Options) -> None:
        workspace = self.workspace(options)
        tokens = (
            ServiceToken.objects.filter(workspace=workspace).prefetch_related("envs").order_by("-created_at")
        )
        if options["json"]:
            self.stdout.write(json.dumps([token_metadata(t) for t in tokens], indent=2))
            return
        rows = [
            (
                t.token_id,
                t.name,
                "read-write" if t.can_write else "read",
                _scope_label(t.env_slugs()),
                _scope_label(t.scope),
                _when(t.created_at),
                _when(t.last_used_at, "never"),
                _when(t.expires_at, "never"),
                _token_state(t),
            )
            for t in tokens
        ]
        if not rows:
            self.stdout.write(f"No service tokens in workspace {workspace.slug}.")
            return
        self.stdout.write(
            _table(
                ("TOKEN_ID", "NAME", "ACCESS", "ENVS", "SCOPE", "CREATED", "LAST_USED", "EXPIRES", "STATE"),
                rows,
            )
        )

    def handle_token_revoke(self, options: Options) -> None:
        workspace = self.workspace(options)
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
        if services.revoke_token(token, actor=self.actor(options)):
            self.stdout.write(f"Revoked service token {token.token_id} ({token.name}).")
        else:
            self.stdout.write(f"Service token {token.token_id} ({token.name}) was already revoked.")

    # ------------------------------------------------------ export, import, run

    def resolved(self, options: Options) -> dict[str, str]:
        workspace = self.workspace(options)
        self.check_envs(workspace, [options["env"]])
        return services.load(workspace, env=options["env"], scope=options["scope"], actor=self.actor(options))

    def handle_export(self, options: Options) -> None:
        values = self.resolved(options)
        if options["format"] == "json":
            self.stdout.write(json.dumps(values, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(dotenv.serialize(values), ending="")

    def handle_import(self, options: Options) -> None:
        workspace = self.workspace(options)
        actor = self.actor(options)
        envs = self.check_envs(workspace, [options["env"]])
        values = self.parse_import(options)

        created: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        with transaction.atomic():
            existing = _secrets_with_envs(workspace, list(values), envs)
            for key, value in values.items():
                secret = existing.get(key)
                if secret is None:
                    services.create_secret(
                        workspace, key=key, value=value, envs=envs, actor=actor, action=VersionAction.IMPORT
                    )
                    created.append(key)
                    continue
                before = secret.current_version
                services.update_secret(secret, value=value, actor=actor, action=VersionAction.IMPORT)
                (updated if secret.current_version != before else unchanged).append(key)
            if options["dry_run"]:
                transaction.set_rollback(True)

        where = f"{workspace.slug}" + (f" (env {options['env']})" if options["env"] else " (global)")
        verb = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(
            f"{verb} {len(values)} secrets into {where}: "
            f"{len(created)} created, {len(updated)} updated, {len(unchanged)} unchanged."
        )
        for label, keys in (("created", created), ("updated", updated), ("unchanged", unchanged)):
            if keys:
                self.stdout.write(f"  {label}: {', '.join(keys)}")

    def parse_import(self, options: Options) -> dict[str, str]:
        """Read and check every entry; raises before anything is written."""
        source = options["file"]
        if source == "-":
            text = self.read_stdin(options)
        else:
            try:
                raw = Path(source).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {source}: {exc.strerror or exc}.") from None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CommandError(f"{source} is not UTF-8 text.") from None
        text = text.removeprefix("\ufeff")
        name = "standard input" if source == "-" else source
        if source.lower().endswith(".json") or text.lstrip().startswith("{"):
            pairs = _json_pairs(text, name)
        else:
            try:
                pairs = [(entry.key, entry.value, f"line {entry.line}") for entry in dotenv.parse(text)]
            except dotenv.DotenvError as exc:
                raise CommandError(f"{name}: {exc}") from None

        problems: list[str] = []
        values: dict[str, str] = {}
        for key, value, where in pairs:
            shown = key if len(key) <= 60 else key[:57] + "..."
            if key in values:
                problems.append(f"{shown} ({where}): given twice")
                continue
            values[key] = value
            for check in (validate_key, validate_value):
                try:
                    check(key if check is validate_key else value)
                except ValidationError as exc:
                    problems.append(f"{shown} ({where}): {' '.join(exc.messages)}")
        if problems:
            raise CommandError(f"{name}: nothing imported: " + "; ".join(problems))
        return values

    def handle_run(self, options: Options) -> None:
        command = list(options["command"])
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            raise CommandError("run needs a command: run -w WS --env ENV -- COMMAND [ARGS...]")
        prefix = options["prefix"]
        if prefix and not _ENV_VAR.fullmatch(prefix):
            raise CommandError("--prefix: use letters, digits and underscores, not starting with a digit.")
        values = {prefix + key: value for key, value in self.resolved(options).items()}
        kept = sorted(name for name in values if name in os.environ)
        if self.verbosity >= 2:
            self.info(f"run: {len(values) - len(kept)} variables from secretvault.")
            if kept:
                self.info(f"run: already set, kept: {', '.join(kept)}")
        # Variables already set win over the vault's.
        child_env = {**values, **os.environ}
        del values
        _release_connections()
        self.stdout.flush()
        self.stderr.flush()
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

    # -------------------------------------------------------------------- keys

    def handle_generate_key(self, options: Options) -> None:
        self.info(
            "Put this key first in SECRETVAULT['MASTER_KEYS'] (SECRETVAULT_MASTER_KEYS), keep the "
            "old keys after it, then run 'rotate-master-key'. Store it safely: without it nothing decrypts."
        )
        self.stdout.write(crypto.generate_master_key())

    def handle_rotate_master_key(self, options: Options) -> None:
        active = crypto.get_keyring().active.key_id

        def progress(done: int, total: int) -> None:
            self.info(f"rotate-master-key: {done}/{total} workspaces")

        count = services.rotate_master_key(
            actor=self.actor(options), progress=progress, dry_run=options["dry_run"]
        )
        verb = "Would re-wrap" if options["dry_run"] else "Re-wrapped"
        self.stdout.write(f"{verb} {count} workspace data key(s) under master key {active}.")

    def handle_rotate_data_key(self, options: Options) -> None:
        workspace = self.workspace(options)

        def progress(done: int, total: int) -> None:
            self.info(f"rotate-data-key: {done}/{total} versions")

        count = services.rotate_data_key(
            workspace, actor=self.actor(options), progress=progress, dry_run=options["dry_run"]
        )
        if options["dry_run"]:
            self.stdout.write(f"Would re-encrypt {count} version(s) of workspace {workspace.slug}.")
        else:
            self.stdout.write(
                f"Re-encrypted {count} version(s) of workspace {workspace.slug} "
                f"under data key {workspace.data_key_id}."
            )


def _secrets_with_envs(workspace: Workspace, keys: list[str], envs: list[str]) -> dict[str, Secret]:
    """``{key: secret}`` for the secrets of ``keys`` serving exactly ``envs`` (``[]``: global)."""
    found: dict[str, Secret] = {}
    candidates = Secret.objects.filter(workspace=workspace, key__in=keys).with_env_slugs()
    for secret in candidates:
        if secret.env_slugs() == envs:
            secret.workspace = workspace
            found[secret.key] = secret
    return found


class _JSONObject(list[tuple[str, Any]]):
    """A JSON object as its ``(key, value)`` pairs, duplicates kept so they can be reported."""


def _json_pairs(text: str, name: str) -> list[tuple[str, str, str]]:
    """``(key, value, where)`` from ``{"KEY": "value"}`` or the API's ``{"secrets": {...}}``."""

    try:
        data = json.loads(text, object_pairs_hook=_JSONObject)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from None
    if not isinstance(data, _JSONObject):
        raise CommandError(f'{name}: expected a JSON object {{"KEY": "value", ...}}.')
    nested = [value for key, value in data if key == "secrets" and isinstance(value, _JSONObject)]
    if len(nested) == 1:
        data = nested[0]
    pairs: list[tuple[str, str, str]] = []
    problems: list[str] = []
    for key, value in data:
        if not isinstance(value, str):
            problems.append(f"{key}: the value must be a string")
            continue
        pairs.append((key, value, "JSON"))
    if problems:
        raise CommandError(f"{name}: nothing imported: " + "; ".join(problems))
    return pairs


def _release_connections() -> None:
    """Close idle database connections before waiting on a possibly long-lived child.

    A connection inside a transaction (a caller's ``atomic()``, a test case) is
    left alone.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()
