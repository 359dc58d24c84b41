"""The exceptions the client raises: one ``SecretVaultError`` hierarchy.

No message, attribute or ``repr`` of these exceptions holds a secret value or
the service token: they name keys, workspaces, environments, HTTP statuses and
the server's ``detail`` (which the server itself keeps free of values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The longest ``ThrottledError.retry_after`` (seconds): a hostile server cannot park a caller.
_MAX_RETRY_AFTER = 3600.0


class SecretVaultError(Exception):
    """Base class of every error raised by ``secretvault_client``."""


class ConfigurationError(SecretVaultError):
    """The client is missing a setting (URL, token, workspace) or was given an invalid one."""


class TransportError(SecretVaultError):
    """The server could not be reached: connection refused or reset, DNS failure, TLS error, timeout."""


class ProtocolError(SecretVaultError):
    """The server answered, but not with what a secretvault API sends (e.g. an HTML page from a proxy)."""


class ResponseTooLargeError(ProtocolError):
    """The answer's body is longer than ``max_response_bytes``: it was not read further.

    A secretvault API answers a load with a few KB per secret; far more means a
    misbehaving server or proxy (or a workspace that needs a higher cap).
    """

    def __init__(self, method: str, path: str, limit: int) -> None:
        self.method = method
        self.path = path
        self.limit = limit
        super().__init__(
            f"{method} {path} answered more than {limit} bytes; refused (raise max_response_bytes if the "
            "workspace really holds that much)."
        )


class HTTPError(SecretVaultError):
    """The server answered with an error status. ``status`` is the HTTP code, ``detail`` its reason."""

    def __init__(self, status: int, detail: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        where = f" from {method} {path}" if method else ""
        super().__init__(f"HTTP {status}{where}: {detail}")


class BadRequestError(HTTPError):
    """400: the server rejected the input (``detail`` summarises the field errors)."""


class AuthenticationError(HTTPError):
    """401: the token is missing, malformed, unknown, revoked or expired."""


class PermissionDeniedError(HTTPError):
    """403: the token is valid but may not do this (no ``can_write``, environment or scope outside it)."""


class NotFoundError(HTTPError):
    """404: no such workspace or secret, or one this token cannot see."""


class ConflictError(HTTPError):
    """409: duplicate key, or ``expected_version`` is no longer the current version."""


class ThrottledError(HTTPError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, when it sent a usable one.

    It is always ``None`` or a finite number ``0 <= retry_after <= 3600``
    (``core.MAX_RETRY_AFTER``): a value out of that range is clamped, a
    non-finite or negative one dropped, so ``time.sleep(exc.retry_after)`` is safe.
    """

    def __init__(
        self, status: int, detail: str, *, method: str = "", path: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(status, detail, method=method, path=path)
        if retry_after is not None:
            finite = isinstance(retry_after, (int, float)) and math.isfinite(retry_after) and retry_after >= 0
            retry_after = min(float(retry_after), _MAX_RETRY_AFTER) if finite else None
        self.retry_after = retry_after


class ServerError(HTTPError):
    """5xx: the server failed (after the client's retries)."""


class MissingSecretError(SecretVaultError, LookupError):
    """``get_required()`` asked for a key that the loaded map does not hold."""

    def __init__(self, key: str, *, workspace: str | None = None, env: str | None = None) -> None:
        self.key = key
        self.workspace = workspace
        self.env = env
        where = ""
        if workspace:
            where = f" in workspace {workspace!r}"
            where += f", environment {env!r}" if env else " (global secrets only: no environment set)"
        super().__init__(f"Secret {key!r} is not set{where}.")


class InvalidValueError(SecretVaultError, ValueError):
    """A typed accessor (``to_bool()``, ``to_int()`` ...) could not convert a value.

    The message names the key and the expected type, never the value.
    """

    def __init__(self, key: str, expected: str) -> None:
        self.key = key
        self.expected = expected
        super().__init__(f"Secret {key!r} is not a valid {expected}.")


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: ThrottledError,
}

# Longest ``detail`` kept from a server answer: enough for any message the API writes,
# short enough that a misbehaving proxy cannot flood logs through it.
DETAIL_MAX_CHARS = 500


def summarise_body(body: Any) -> str | None:
    """The human reason in a DRF error body: ``detail``, or the field errors as ``field: message``."""
    if isinstance(body, Mapping):
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return _clip(detail)
        parts = []
        for field, messages in body.items():
            text = "; ".join(_flatten(messages))
            if text:
                parts.append(f"{field}: {text}")
        if parts:
            return _clip("; ".join(parts))
    elif isinstance(body, list):
        text = "; ".join(_flatten(body))
        if text:
            return _clip(text)
    return None


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, list):
        return [text for item in messages for text in _flatten(item)]
    if isinstance(messages, Mapping):
        return [f"{name}: {text}" for name, item in messages.items() for text in _flatten(item)]
    return []


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"


def error_for_status(
    status: int,
    detail: str,
    *,
    method: str = "",
    path: str = "",
    retry_after: float | None = None,
) -> HTTPError:
    """The ``HTTPError`` subclass that fits ``status``."""
    if status == 429:
        return ThrottledError(status, detail, method=method, path=path, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, detail, method=method, path=path)
    cls = _BY_STATUS.get(status, HTTPError)
    return cls(status, detail, method=method, path=path)


#: (what the server's 403 says, what a caller of ``set()`` needs to hear instead or besides).
_CLIENT_SENTENCES = (
    (
        "not a global secret",
        "Pass envs=[...] to set() (e.g. envs=['prd']) to write that environment's own secret.",
    ),
    ("'scope'", "Pass scope=[...] to set() when it creates the secret."),
)


def in_client_terms(exc: PermissionDeniedError) -> PermissionDeniedError:
    """The server speaks of its doors ('scope' is an API field); a client user needs ``set()``'s arguments."""
    detail = exc.detail
    for marker, sentence in _CLIENT_SENTENCES:
        if marker in detail:
            kept = [
                part.rstrip(".")
                for part in detail.split(". ")
                if not marker.startswith("'") or marker not in part
            ]
            detail = ". ".join(kept) + ". " + sentence
    return PermissionDeniedError(exc.status, detail, method=exc.method, path=exc.path)
