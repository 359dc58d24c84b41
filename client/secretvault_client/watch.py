"""``SecretVaultClient.watch()``: a daemon thread that revalidates the map and reports changes."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secretvault_client.core import Secrets, SecretVaultClient

logger = logging.getLogger("secretvault.client")


class Watch:
    """A running watch; ``stop()`` ends it. Started by ``SecretVaultClient.watch()``.

    The thread is a daemon (it never keeps a process alive) named
    ``secretvault-watch``. Each check is ``client.refresh()``: one revalidation,
    a 304 when nothing changed. The map is compared by value, so a change to any
    key or value (or a key added or removed) calls ``callback(old, new)`` once.
    """

    def __init__(
        self,
        client: SecretVaultClient,
        callback: Callable[[Secrets | None, Secrets], object],
        interval: float,
    ) -> None:
        if not isinstance(interval, (int, float)) or not 0 < interval < math.inf:
            raise ValueError("interval must be a number of seconds > 0.")
        if not callable(callback):
            raise TypeError("callback must be callable as callback(old, new).")
        self.client = client
        self.callback = callback
        self.interval = float(interval)
        self._stopped = threading.Event()
        self._current = client._cached  # the map the caller has seen, if any
        self._thread = threading.Thread(target=self._run, name="secretvault-watch", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """Stop checking; waits up to ``timeout`` seconds (``None``: as long as needed) for the thread to end.

        A check already under way finishes first (it is bounded by the client's
        ``timeout``); no callback runs after ``stop()`` returns, unless it is
        called from the callback itself.
        """
        self._stopped.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                latest = self.client.refresh()
            except Exception as exc:  # noqa: BLE001 (logged; the next check goes on)
                logger.warning("secretvault: watch: could not check for changes: %s", exc)
                continue
            old = self._current
            if old is not None and (latest is old or dict(latest) == dict(old)):
                continue
            self._current = latest
            if self._stopped.is_set():
                return
            try:
                self.callback(old, latest)
            except Exception:
                logger.exception("secretvault: watch: the callback raised")
