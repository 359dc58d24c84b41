"""The supervisor behind ``run`` (both CLIs): start a command, forward signals, report its status.

``run`` stays the parent of its command instead of replacing itself with it, so
that ``run --watch`` can restart the command; it behaves as if it were not there
(SPEC §8):

- SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to ``run`` are sent
  on to the child. A supervisor that stops ``run`` (``docker stop``, systemd,
  ``kill``) therefore stops the child: it is never orphaned. SIGKILL cannot be
  caught, so it cannot be forwarded.
- A signal that a terminal sends (Ctrl-C, Ctrl-\\) goes to the whole foreground
  process group, which includes the child: while ``run`` is in the terminal's
  foreground group, SIGINT and SIGQUIT are not sent a second time.
- The exit status of ``run`` is the child's, ``128 + N`` when the child died of
  signal ``N`` (as a shell reports it).

POSIX only for the forwarding; elsewhere the child is simply waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

#: Forwarded to the child, where the platform has them.
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name) and os.name == "posix"
)
#: Signals a terminal's keyboard sends to its whole foreground process group.
_TERMINAL_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGQUIT") if hasattr(signal, name)
)

#: Forwarded signals that ask ``run`` to stop: once one arrives, ``run --watch`` restarts nothing.
STOP_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name)
)

#: Shell conventions for a command that cannot be run.
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127

#: Seconds a restarted child has to exit after SIGTERM before it gets SIGKILL.
DEFAULT_STOP_TIMEOUT = 10.0


def exit_status(returncode: int) -> int:
    """A ``Popen.returncode`` as a shell reports it: ``128 + N`` for death by signal ``N``."""
    return 128 - returncode if returncode < 0 else returncode


def _in_terminal_foreground() -> bool:
    """True when a key pressed in our controlling terminal signals our process group."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            descriptor = stream.fileno()
            if os.isatty(descriptor):
                return os.tcgetpgrp(descriptor) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return False


class Supervisor:
    """One child process at a time, with the signals of ``FORWARDED_SIGNALS`` passed on to it.

    Use it as a context manager: entering installs the signal handlers, leaving
    restores the previous ones (and kills a child still running, which only
    happens when the caller failed). ``start`` raises ``FileNotFoundError`` or
    ``PermissionError`` (``OSError``) when the command cannot be run.
    """

    def __init__(self, command: Sequence[str]) -> None:
        if not command:
            raise ValueError("No command to run.")
        self.command = list(command)
        self.child: subprocess.Popen[bytes] | None = None
        # Signals received while no child runs (between a stop and a start): sent to the next one.
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}
        #: A signal of ``STOP_SIGNALS`` sent to ``run`` (forwarded or pending), else ``None``.
        self.stop_requested: int | None = None

    def __enter__(self) -> Supervisor:
        for signum in FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._forward)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.child is not None and self.child.poll() is None:
                self.kill()
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        if signum in STOP_SIGNALS:
            self.stop_requested = signum
        if signum in _TERMINAL_SIGNALS and _in_terminal_foreground():
            return  # the terminal sent it to the child as well
        child = self.child
        if child is None or child.returncode is not None:
            self._pending.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    def start(self, environ: Mapping[str, str]) -> None:
        """Start the command with exactly ``environ`` as its environment."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.child = subprocess.Popen(self.command, env=dict(environ))  # noqa: S603 (the user's own command)
        pending, self._pending = self._pending, []
        for signum in pending:
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int | None:
        """The child's exit status (``exit_status``) once it ends; ``None`` if ``timeout`` passes first."""
        assert self.child is not None  # noqa: S101 (start() comes first)
        try:
            return exit_status(self.child.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def send(self, signum: int) -> None:
        """Send ``signum`` to the running child (nothing if it has ended)."""
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signum)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """SIGTERM, up to ``timeout`` seconds to exit, then SIGKILL; returns its exit status."""
        assert self.child is not None  # noqa: S101 (start() comes first)
        if self.child.poll() is None:
            self.send(signal.SIGTERM)
            status = self.wait(timeout)
            if status is not None:
                return status
            self.kill()
        return exit_status(self.child.wait())

    def kill(self) -> None:
        assert self.child is not None  # noqa: S101
        with contextlib.suppress(ProcessLookupError):
            self.child.kill()
        self.child.wait()


def run(command: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run ``command`` with ``environ``, forwarding signals; its exit status (``exit_status``).

    Raises ``OSError`` (``FileNotFoundError``, ``PermissionError``) when it cannot start.
    """
    with Supervisor(command) as supervisor:
        supervisor.start(environ)
        status = None
        while status is None:
            status = supervisor.wait()
        return status


#: ``on_change`` value that restarts the child; any other is a signal name such as ``"SIGHUP"``.
RESTART = "restart"


def parse_on_change(text: str) -> str | signal.Signals:
    """``"restart"``, or a signal given as ``HUP``, ``SIGHUP`` or its number. ``ValueError`` otherwise."""
    if text == RESTART:
        return RESTART
    name = text.upper()
    if name.isdigit():
        try:
            return signal.Signals(int(name))
        except ValueError:
            pass
    else:
        found = getattr(signal, name if name.startswith("SIG") else "SIG" + name, None)
        if isinstance(found, signal.Signals):
            return found
    raise ValueError(f"--on-change: {text!r} is neither 'restart' nor a signal name such as HUP or USR1.")


def run_watching(
    command: Sequence[str],
    environ: Mapping[str, str],
    next_environ: Callable[[], Mapping[str, str] | None],
    *,
    interval: float,
    on_change: str | signal.Signals = RESTART,
    stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    notice: Callable[[str], None] = lambda message: None,
) -> int:
    """Like ``run``, and every ``interval`` seconds ask ``next_environ()`` for a changed environment.

    ``next_environ`` returns ``None`` when nothing changed (it should revalidate
    cheaply, with an ETag) and handles its own errors (an unreachable server keeps
    the child running). On a change the child is restarted with the new
    environment (``stop`` then ``start``), or sent the ``on_change`` signal. The
    exit status is that of the last child, when it exits on its own. After a signal of
    ``STOP_SIGNALS`` (forwarded) no child is restarted or signalled for a change.
    """
    with Supervisor(command) as supervisor:
        supervisor.start(environ)
        deadline = time.monotonic() + interval
        while True:
            status = supervisor.wait(max(0.0, deadline - time.monotonic()))
            if status is not None:
                return status
            deadline = time.monotonic() + interval
            changed = next_environ()
            if changed is None or supervisor.stop_requested is not None:
                # Once ``run`` was asked to stop (the signal went to the child), it waits for the
                # child as ``run`` does: a restart would outlive the request.
                continue
            if isinstance(on_change, signal.Signals):
                notice(f"secrets changed: sending {on_change.name} to the command")
                supervisor.send(on_change)
            else:
                notice("secrets changed: restarting the command")
                status = supervisor.stop(stop_timeout)
                if supervisor.stop_requested is not None:
                    return status  # a stop signal arrived while the child was being stopped
                supervisor.start(changed)
