"""Helpers shared by the ``run`` tests of both CLIs: a child program that reports what it sees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")

#: A child that writes "ready <pid>" to argv[1], then one line per signal it receives; on a
#: signal it records it, restores the default action and sends it to itself again (so it dies
#: of it, as an ordinary program would). Optional argv[2:] names variables to record at start.
CHILD = r"""
import os, signal, sys, time
# os.write on an O_APPEND descriptor: one atomic write per line, and no buffered-writer lock
# that a signal handler could re-enter.
log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
def record(signum, frame):
    os.write(log, (signal.Signals(signum).name + "\n").encode())
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
    signal.signal(getattr(signal, name), record)
for name in sys.argv[2:]:
    os.write(log, f"{name}={os.environ.get(name)!r}\n".encode())
os.write(log, f"ready {os.getpid()}\n".encode())
while True:
    time.sleep(0.05)
"""


def wait_for_line(
    path: Path, predicate: str, *, after: str | None = None, timeout: float = 30.0
) -> list[str]:
    """Wait until a line of ``path`` starts with ``predicate`` (below the line ``after``, if given).

    Returns all the lines; fails the test when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        start = lines.index(after) + 1 if after in lines else (len(lines) if after else 0)
        if any(line.startswith(predicate) for line in lines[start:]):
            return lines
        time.sleep(0.02)
    pytest.fail(f"the child never wrote {predicate!r}; it wrote {lines!r}")


def child_pid(lines: Sequence[str]) -> int:
    return int(next(line for line in reversed(lines) if line.startswith("ready ")).split()[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def start_detached(argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``argv`` in a new session (``setsid``), as a supervisor or ``docker`` would."""
    return subprocess.Popen(  # noqa: S603
        list(argv), env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def child_command(log: Path, *variables: str) -> list[str]:
    return [sys.executable, "-c", CHILD, str(log), *variables]


def signal_number(name: str) -> int:
    return int(getattr(signal, name))
