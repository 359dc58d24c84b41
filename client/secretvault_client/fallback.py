"""The opt-in fallback file: the last map loaded, in plaintext on disk, served while the server is down.

Written atomically (a new file created ``0600`` with ``O_EXCL | O_NOFOLLOW``,
then renamed over the old one). Read only when it is safe to trust (issue
#17.5): a regular file (not a FIFO, device or symlink: opened with
``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``), owned by the user running the
client, writable by nobody else, written for the same URL, workspace,
environment and scope, no larger than the client's body cap, and — with a
maximum age — saved recently enough. Anything else is logged (never a value)
and ignored, so the client raises the server's error instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets as _random
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("secretvault.client")

FORMAT = 1
#: ``saved_at`` may lie this many seconds in the future (clocks of machines sharing a disk).
_CLOCK_SKEW = 300


@dataclass(frozen=True)
class Saved:
    secrets: Mapping[str, str]
    saved_at: int  # Unix seconds

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.saved_at)


def write(path: str, identity: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
    """Replace the file at ``path`` atomically; logs (and swallows) ``OSError``."""
    target = os.path.abspath(path)
    temporary = os.path.join(
        os.path.dirname(target), f".{os.path.basename(target)}.{_random.token_hex(8)}.tmp"
    )
    document = {"format": FORMAT, **identity, "saved_at": int(time.time()), "secrets": dict(secrets)}
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(json.dumps(document, ensure_ascii=False).encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        # The load itself succeeded; a service should not fail because its safety copy did.
        logger.warning("secretvault: could not write the fallback file %s: %s", target, _reason(exc))


def _untrusted(info: os.stat_result) -> str | None:
    """Why a file with this ``fstat`` must not be trusted, or ``None``."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return "owned by another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by other users"
    return None


def _read_bytes(path: str, max_bytes: int) -> bytes | None:
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: the path is a symlink
        logger.warning("secretvault: fallback file %s ignored: %s", path, _reason(exc))
        return None
    with os.fdopen(descriptor, "rb") as handle:
        problem = _untrusted(os.fstat(descriptor))
        if problem is None and os.fstat(descriptor).st_size > max_bytes:
            problem = f"larger than {max_bytes} bytes"
        if problem is not None:
            logger.warning("secretvault: fallback file %s ignored: %s", path, problem)
            return None
        return handle.read(max_bytes + 1)


def read(path: str, identity: Mapping[str, Any], *, max_bytes: int, max_age: float | None) -> Saved | None:
    """The saved map when the file is there and trustworthy (see the module docstring), else ``None``."""
    try:
        raw = _read_bytes(path, max_bytes)
    except OSError as exc:
        logger.warning("secretvault: fallback file %s unusable: %s", path, _reason(exc))
        return None
    if raw is None:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        logger.warning("secretvault: fallback file %s is not a secretvault fallback file", path)
        return None
    if any(document.get(name) != value for name, value in identity.items()):
        logger.warning(
            "secretvault: fallback file %s was written for another URL, workspace, env or scope; ignored",
            path,
        )
        return None
    saved_at = document.get("saved_at")
    secrets = document.get("secrets")
    if (
        not isinstance(saved_at, int)
        or isinstance(saved_at, bool)
        or saved_at > time.time() + _CLOCK_SKEW
        or not isinstance(secrets, Mapping)
        or not all(isinstance(key, str) and isinstance(value, str) for key, value in secrets.items())
    ):
        logger.warning("secretvault: fallback file %s is malformed", path)
        return None
    saved = Saved(secrets, saved_at)
    if max_age is not None and saved.age > max_age:
        logger.warning(
            "secretvault: fallback file %s is %.0f s old, older than fallback_max_age (%g s); ignored",
            path,
            saved.age,
            max_age,
        )
        return None
    return saved


def _reason(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror}" if exc.strerror else type(exc).__name__
