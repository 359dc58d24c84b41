"""Throttling of failed service-token attempts, per client address, through Django's cache.

A fixed-window counter: ``cache.add`` opens the window's key at zero, ``cache.incr``
counts each failure. Both are atomic in Redis and Memcached, so every worker process
that shares the cache shares the count. (``LocMemCache`` counts per process.)

The limit is DRF's throttle rate named ``secretvault_auth_failures``
(``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``), ``20/min`` when the project sets none.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.core.cache import caches
from rest_framework.settings import api_settings

from secretvault.audit import client_address

logger = logging.getLogger(__name__)


class AuthFailureThrottle:
    """Counts failed bearer-token attempts per client address in fixed windows."""

    #: Name of the rate in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.
    scope = "secretvault_auth_failures"
    #: Used when the project names no rate for ``scope``: 20 failures a minute.
    default_rate = "20/min"
    #: The Django cache alias holding the counters (share it between workers: Redis).
    cache_alias = "default"
    cache_key_prefix = "secretvault:authfail"

    def __init__(self, timer: Any = time.time) -> None:
        self.timer = timer

    # -- configuration ---------------------------------------------------------------

    def get_rate(self) -> str:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return str(rates.get(self.scope) or self.default_rate)

    def parse_rate(self) -> tuple[int, int]:
        """``(failures allowed, window in seconds)`` from a DRF rate such as ``20/min``."""
        num, period = self.get_rate().split("/")
        duration = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
        return int(num), duration

    @property
    def cache(self) -> Any:
        return caches[self.cache_alias]

    # -- counting ----------------------------------------------------------------------

    def _window(self) -> tuple[str, float, int]:
        _, duration = self.parse_rate()
        now = self.timer()
        window = int(now // duration)
        return str(window), now, duration

    def cache_key(self, address: str, window: str) -> str:
        return f"{self.cache_key_prefix}:{address}:{window}"

    @staticmethod
    def address(request: Any) -> str:
        return client_address(request) or "unknown"

    def wait(self, request: Any) -> float | None:
        """Seconds until this address may try again, or ``None`` while under the limit."""
        limit, _ = self.parse_rate()
        window, now, duration = self._window()
        try:
            count = self.cache.get(self.cache_key(self.address(request), window)) or 0
        except Exception:  # a cache outage must not lock everyone out (fail open, loudly)
            logger.warning("secretvault: auth-failure throttle cache unavailable", exc_info=True)
            return None
        if count < limit:
            return None
        return max(1.0, math.ceil((int(window) + 1) * duration - now))

    def record_failure(self, request: Any) -> int:
        """Count one failure of this address in the current window; returns the new count."""
        window, _, duration = self._window()
        key = self.cache_key(self.address(request), window)
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
            logger.warning("secretvault: auth-failure throttle cache unavailable", exc_info=True)
            return 0
