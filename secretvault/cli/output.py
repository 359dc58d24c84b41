"""Formatting shared by the subcommands: tables, timestamps, labels, JSON shapes.

Pure functions returning text or data; printing is the session's job. The JSON
representations are the REST API's serializers, so ``--json`` and the API can
never disagree (docs/cli.md, "Output").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from secretvault.models import Secret, SecretVersion, ServiceToken


def plain(text: str) -> str:
    """Style function for informational stderr output (stderr is red by default)."""
    return text


def when(moment: dt.datetime | None, empty: str = "-") -> str:
    """``moment`` in UTC as ``YYYY-MM-DD HH:MM:SSZ``; ``empty`` for ``None``."""
    if moment is None:
        return empty
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns two spaces apart, a header line first, no trailing blanks."""
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def envs_label(slugs: Sequence[str]) -> str:
    return ",".join(slugs) if slugs else "(global)"


def scope_label(tags: Sequence[str]) -> str:
    return ",".join(tags) if tags else "(all)"


def secret_label(secret: Secret) -> str:
    envs = secret.env_slugs()
    return f"{secret.key} ({'env ' + ','.join(envs) if envs else 'global'})"


def secret_state(secret: Secret) -> str:
    if secret.is_revoked:
        return "revoked"
    if secret.is_expired():
        return "expired"
    if secret.is_expiring_soon():
        return "expiring soon"
    return "active"


def token_state(token: ServiceToken) -> str:
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
    """A version's metadata as the REST API shows it; never the value."""
    from secretvault.api.serializers import SecretVersionSerializer

    return dict(SecretVersionSerializer(version).data)


def token_metadata(token: ServiceToken) -> dict[str, Any]:
    """A token's metadata as the REST API shows it; never its secret part or digest."""
    from secretvault.api.serializers import ServiceTokenSerializer

    return dict(ServiceTokenSerializer(token).data)
