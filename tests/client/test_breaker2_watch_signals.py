"""``run --watch``: a stop signal that meets a restart ends ``run`` (breaker2).

SPEC §8: SIGTERM or SIGINT sent to ``run`` reaches the child, and ``run`` ends with
it. When that signal arrives while the watcher is about to restart the child (the
secrets changed at the same moment), the restart must not swallow it: no new child
is started, and ``run`` exits with the stopped child's status.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from secretvault_client import process

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")


def _child(log: Path, *, ignore_term: bool = False) -> list[str]:
    trap = "trap '' TERM; " if ignore_term else ""
    return ["/bin/sh", "-c", f"{trap}echo started >> {log}; exec sleep 8"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_arriving_with_a_change_is_not_followed_by_a_restart(
    tmp_path: Path, signum: int
) -> None:
    log = tmp_path / "child.log"
    calls = 0

    def next_environ() -> dict[str, str] | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            # The operator stops run while the watcher finds a change: the signal is forwarded
            # to the child (which ends of it) before the watcher acts on the change.
            os.kill(os.getpid(), signum)
            return {**os.environ, "CHANGED": "1"}
        return None

    status = process.run_watching(_child(log), dict(os.environ), next_environ, interval=0.3)
    assert log.read_text().splitlines() == ["started"], "a new child was started after the stop signal"
    assert status == 128 + signum


def test_a_stop_signal_during_a_slow_restart_is_not_followed_by_a_restart(tmp_path: Path) -> None:
    """A child that ignores SIGTERM is being stopped (SIGKILL after ``stop_timeout``); a SIGTERM to
    ``run`` meanwhile means stop: no new child, ``run`` ends with the old child's status."""
    log = tmp_path / "child.log"
    calls = 0

    def next_environ() -> dict[str, str] | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
            return {**os.environ, "CHANGED": "1"}
        return None

    status = process.run_watching(
        _child(log, ignore_term=True), dict(os.environ), next_environ, interval=0.3, stop_timeout=1.0
    )
    assert log.read_text().splitlines() == ["started"], "a new child was started after the stop signal"
    assert status == 128 + signal.SIGKILL
