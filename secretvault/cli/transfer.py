"""``export`` and ``import``: many secrets at once, as dotenv or JSON.

``import`` checks every entry and plans the whole import (read-only) before it
writes anything, then writes in batches, one transaction each, reporting progress
on stderr (``secretvault.bulk``); ``--dry-run`` prints the plan, with no lock and
no write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import ngettext

from secretvault import bulk, dotenv, services
from secretvault.validators import validate_key, validate_value

from .parsing import Subcommands, scope_tag
from .session import Options, Session


def register(commands: Subcommands) -> None:
    sub = commands.add(
        "export", "Print the secrets an environment resolves to.", handle_export, *commands.in_workspace
    )
    sub.add_argument("--env", required=True)
    sub.add_argument("--scope", type=scope_tag, metavar="TAG", help="only what an app tagged TAG sees")
    sub.add_argument("--format", choices=["dotenv", "json"], default="dotenv")

    sub = commands.add(
        "import",
        "Create or update secrets from a dotenv or JSON file.",
        handle_import,
        *commands.in_workspace,
    )
    sub.add_argument(
        "file", metavar="FILE", help="dotenv or JSON (.json, or text starting with '{'); - = stdin"
    )
    sub.add_argument("--env", help="import as secrets of this environment (default: global)")
    sub.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")


def resolved(session: Session, options: Options) -> dict[str, str]:
    """``{key: value}`` that ``--env`` (and ``--scope``) resolve to; the read is audited."""
    workspace = session.workspace(options)
    session.check_envs(workspace, [options["env"]], options, "reveal_secret")
    return services.load(workspace, env=options["env"], scope=options["scope"], actor=session.actor(options))


def handle_export(session: Session, options: Options) -> None:
    """Print the values as JSON or dotenv (``secretvault.dotenv``'s writer).

    A dotenv export that a value cannot be written in is refused as a whole, naming
    the keys; keys some reader will not read back exactly are named on stderr.
    """
    values = resolved(session, options)
    if options["format"] == "json":
        session.stdout.write(json.dumps(values, indent=2, ensure_ascii=False))
        return
    try:
        text = dotenv.serialize(values)
    except dotenv.UnrepresentableValueError as exc:
        raise CommandError(str(exc)) from None
    notice = dotenv.reader_notice(values)
    if notice:
        session.info(f"secretvault: notice: {notice}")
    session.stdout.write(text, ending="")


def handle_import(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    actor = session.actor(options)
    envs = session.check_envs(workspace, [options["env"]], options, "add_secret")
    # Refused as a whole before the file is read, let alone planned (SPEC §9).
    bulk.check_import_reach(workspace, envs, actor)
    values = parse_import(session, options)

    def progress(done: int, total: int) -> None:
        session.info(f"import: {done}/{total} keys")

    report = bulk.import_values(
        workspace, values, envs=envs, actor=actor, dry_run=options["dry_run"], progress=progress
    )
    created, updated, unchanged = report.created, report.updated, report.unchanged

    where = f"{workspace.slug}" + (f" (env {options['env']})" if options["env"] else " (global)")
    verb = "Would import" if options["dry_run"] else "Imported"
    secrets = ngettext("%(count)d secret", "%(count)d secrets", len(values)) % {"count": len(values)}
    session.stdout.write(
        f"{verb} {secrets} into {where}: "
        f"{len(created)} created, {len(updated)} updated, {len(unchanged)} unchanged."
    )
    for label, keys in (("created", created), ("updated", updated), ("unchanged", unchanged)):
        if keys:
            session.stdout.write(f"  {label}: {', '.join(keys)}")


def parse_import(session: Session, options: Options) -> dict[str, str]:
    """Read and check every entry; raises ``CommandError`` before anything is written."""
    source = options["file"]
    if source == "-":
        text = session.read_stdin()
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
        pairs = json_pairs(text, name)
    else:
        # Line breaks as python-dotenv reads a file (text mode, universal newlines): a
        # multi-line quoted value of a CRLF file holds LF, not CR LF (docs/cli.md).
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        try:
            pairs = [(entry.key, entry.value, f"line {entry.line}") for entry in dotenv.parse(text)]
        except dotenv.DotenvError as exc:
            raise CommandError(f"{name}: {exc}") from None

    problems: list[str] = []
    values: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    # Messages name where an entry is, never its text: a malformed key may be a secret.
    for key, value, where in pairs:
        if key in first_seen:
            problems.append(f"{where}: the same key as {first_seen[key]}")
            continue
        first_seen[key] = where
        values[key] = value
        for check, subject in ((validate_key, key), (validate_value, value)):
            try:
                check(subject)
            except ValidationError as exc:
                problems.append(f"{where}: {' '.join(exc.messages)}")
    if problems:
        raise CommandError(f"{name}: nothing imported: " + "; ".join(problems))
    return values


class _JSONObject(list[tuple[str, Any]]):
    """A JSON object as its ``(key, value)`` pairs, duplicates kept so they can be reported."""


def json_pairs(text: str, name: str) -> list[tuple[str, str, str]]:
    """``(key, value, where)`` from ``{"KEY": "value"}`` or the API's ``{"secrets": {...}}``.

    ``where`` is ``entry N``, the entry's 1-based position in its object (the json
    module gives no line numbers for keys); messages never quote a key.
    """
    try:
        data = json.loads(text, object_pairs_hook=_JSONObject)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from None
    except RecursionError:
        raise CommandError(f'{name}: JSON nested too deeply; expected {{"KEY": "value", ...}}.') from None
    if not isinstance(data, _JSONObject):
        raise CommandError(f'{name}: expected a JSON object {{"KEY": "value", ...}}.')
    nested = [value for key, value in data if key == "secrets" and isinstance(value, _JSONObject)]
    if len(nested) == 1:
        data = nested[0]
    pairs: list[tuple[str, str, str]] = []
    problems: list[str] = []
    for position, (key, value) in enumerate(data, start=1):
        where = f"entry {position}"
        if not isinstance(value, str):
            hint = ' (quote numbers and booleans: "8080", "true")' if value is not None else ""
            problems.append(f"{where}: the value must be a string{hint}")
            continue
        pairs.append((key, value, where))
    if problems:
        raise CommandError(f"{name}: nothing imported: " + "; ".join(problems))
    return pairs
