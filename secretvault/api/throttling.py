"""Counting failed authentication attempts through Django's cache.

A fixed-window counter per subject (a client address, a token id, a username and
address): ``cache.add`` opens the window's key at zero, ``cache.incr`` counts each
failure. Both are atomic in Redis and Memcached, so every worker process that
shares the cache shares the count. (``LocMemCache`` counts per process; the
``--deploy`` system check ``secretvault.W010`` says so.)

Counters are read and written on failures only. A request that authenticates never
touches them, so a valid credential is never refused by a lockout that others
caused, and the success path costs no cache round trip (SPEC §14, issue #10.4).

Limits are DRF throttle rates (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``):
``secretvault_auth_failures`` for service tokens (default ``20/min``) and
``secretvault_password_failures`` for passwords (default ``10/hour``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from rest_framework.settings import api_settings

from secretvault.network import client_address

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def wall_clock() -> float:
    """Seconds since the epoch (a function of its own, so tests can move the clock)."""
    return time.time()


class FailureCounter:
    """Failures per subject in fixed windows of the wall clock.

    Subclasses name their rate (``scope``), its default and their key prefix. A cache
    outage fails open (no count, nothing refused) and logs a warning.
    """

    #: Name of the rate in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.
    scope = ""
    #: Used when the project names no rate for ``scope``.
    default_rate = "20/min"
    #: The Django cache alias holding the counters (share it between workers: Redis).
    cache_alias = "default"
    cache_key_prefix = "secretvault:fail"

    def __init__(self, timer: Callable[[], float] | None = None) -> None:
        self.timer = timer or wall_clock

    # -- configuration ---------------------------------------------------------------

    def get_rate(self) -> str:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return str(rates.get(self.scope) or self.default_rate)

    def parse_rate(self) -> tuple[int, int]:
        """``(failures allowed, window in seconds)`` from a DRF rate such as ``20/min``."""
        num, period = self.get_rate().split("/")
        return int(num), _PERIODS[period[0]]

    @property
    def cache(self) -> Any:
        return caches[self.cache_alias]

    # -- windows and keys -------------------------------------------------------------

    def _window(self) -> tuple[str, float, int]:
        _, duration = self.parse_rate()
        now = self.timer()
        return str(int(now // duration)), now, duration

    def cache_key(self, subject: str, window: str) -> str:
        # Hashed: usernames may hold characters a cache key must not (memcached).
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self.cache_key_prefix}:{digest}:{window}"

    @staticmethod
    def _seconds_left(window: str, now: float, duration: int) -> float:
        return max(1.0, math.ceil((int(window) + 1) * duration - now))

    # -- counting ---------------------------------------------------------------------

    def wait(self, subject: str) -> float | None:
        """Seconds until ``subject`` may try again, or ``None`` while under the limit. Reads only."""
        limit, _ = self.parse_rate()
        window, now, duration = self._window()
        try:
            count = self.cache.get(self.cache_key(subject, window)) or 0
        except Exception:  # a cache outage must not lock everyone out (fail open, loudly)
            logger.warning("secretvault: failure-counter cache unavailable", exc_info=True)
            return None
        if count < limit:
            return None
        return self._seconds_left(window, now, duration)

    def count(self, subject: str) -> int:
        """Count one failure of ``subject`` in the current window; returns the new count."""
        window, _, duration = self._window()
        key = self.cache_key(subject, window)
        cache = self.cache
        try:
            # The key outlives its window a little; the next window uses another key.
            cache.add(key, 0, timeout=duration + 1)
            try:
                return int(cache.incr(key))
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=duration + 1)
                return 1
        except Exception:
            logger.warning("secretvault: failure-counter cache unavailable", exc_info=True)
            return 0

    def count_and_wait(self, subject: str) -> tuple[int, float | None]:
        """Count one failure; ``(new count, seconds to wait)``, the wait ``None`` while within the limit."""
        limit, _ = self.parse_rate()
        new = self.count(subject)
        if new <= limit:
            return new, None
        window, now, duration = self._window()
        return new, self._seconds_left(window, now, duration)


class AuthFailureThrottle(FailureCounter):
    """Failed bearer-token attempts: per client address, and per known token id.

    The per-address count decides the answer: past the limit, a failure is 429
    instead of 401 (and is no longer audited one by one). The per-token-id count
    (failures against a token id that exists, from any address) only warns the
    operators in the log: answering on it would tell a stranger which ids exist.
    """

    scope = "secretvault_auth_failures"
    default_rate = "20/min"
    cache_key_prefix = "secretvault:authfail"

    @staticmethod
    def address(request: Any) -> str:
        return client_address(request) or "unknown"

    def record_failure(
        self, request: Any, token_id: str | None = None, known: bool = False
    ) -> tuple[int, float | None]:
        """Count a failure of this request's address, and of ``token_id`` when the token parsed.

        Returns ``(failures of the address in this window, seconds to wait)``; the
        wait is ``None`` while the address is within the limit. Every parsed id is
        counted, known or not, so both cost the same; only a known one (``known``)
        past the limit is reported in the log.
        """
        if token_id:
            failures, over = self.count_and_wait(f"token:{token_id}")
            if known and over is not None and failures == self.parse_rate()[0] + 1:
                logger.warning(
                    "secretvault: service token %s failed authentication %d times in this window "
                    "(wrong secrets, from any address)",
                    token_id,
                    failures,
                )
        return self.count_and_wait(f"addr:{self.address(request)}")


class PasswordFailureThrottle(FailureCounter):
    """Failed password logins per username and client address (admin, API Basic, any login view).

    Past the limit, that username is refused from that address until the window ends,
    the right password included. Per username *and* address, so a stranger cannot lock
    a person out everywhere, and one address cannot try every username at full speed.
    """

    scope = "secretvault_password_failures"
    default_rate = "10/hour"
    cache_key_prefix = "secretvault:pwfail"

    @staticmethod
    def subject(username: str, request: Any) -> str:
        return f"{username}\x00{client_address(request) or 'unknown'}"
