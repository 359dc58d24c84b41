"""``secretvault run`` (the client's console script) with real child processes and a real HTTP server.

Signal forwarding and exit statuses (SPEC §8), what the child is handed (#17.2),
and ``--watch`` (SPEC §10).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretvault_client import childenv, process
from tests.client.conftest import VAULT_VARIABLES, Reply, Stub, load_reply
from tests.client.runner import (
    FORWARDED,
    child_command,
    child_pid,
    gone,
    signal_number,
    start_detached,
    wait_for_line,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")


def client_env(stub: Stub, **extra: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if name not in VAULT_VARIABLES}
    environment.update(
        SECRETVAULT_URL=stub.url, SECRETVAULT_TOKEN="svt_id_s3kr1t", SECRETVAULT_WORKSPACE="acme"
    )
    environment.update(extra)
    return environment


def secretvault(*args: str) -> list[str]:
    return [sys.executable, "-m", "secretvault_client", *args]


@pytest.mark.parametrize("name", FORWARDED)
def test_run_forwards_each_signal_and_exits_128_plus_n(stub: Stub, tmp_path: Path, name: str) -> None:
    stub.script(load_reply({"WORKERS": "4"}))
    log = tmp_path / "child.log"
    run = start_detached(secretvault("run", "--env", "prd", "--", *child_command(log)), client_env(stub))
    lines = wait_for_line(log, "ready ")
    os.kill(run.pid, signal_number(name))  # only run, never its child
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 128 + signal_number(name), stderr
    assert log.read_text().splitlines()[-1] == name
    assert gone(child_pid(lines))


def test_a_supervisor_stopping_run_stops_the_child(stub: Stub, tmp_path: Path) -> None:
    """``setsid secretvault run … & kill -TERM $!``: the child gets SIGTERM and exits; run exits 143."""
    stub.script(load_reply({"WORKERS": "4"}))
    log = tmp_path / "child.log"
    run = start_detached(secretvault("run", "--env", "prd", "--", *child_command(log)), client_env(stub))
    pid = child_pid(wait_for_line(log, "ready "))
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=30) == 143
    assert "SIGTERM" in log.read_text().splitlines()
    assert gone(pid)


def test_exit_status_of_a_child_killed_by_a_signal_is_128_plus_n(stub: Stub) -> None:
    stub.script(load_reply({}))
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = subprocess.run(  # noqa: S603
        secretvault("run", "--", sys.executable, "-c", code),
        env=client_env(stub),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 128 + 9


# -- what the child is handed -------------------------------------------------------------

HOSTILE = {
    "BASH_ENV": "{script}",
    "LD_PRELOAD": "/nonexistent/evil.so",
    "PYTHONSTARTUP": "{script}",
    "NODE_OPTIONS": "--require /nonexistent/evil.js",
    "PATH": "/nonexistent",
    "SECRETVAULT_URL": "http://attacker.invalid/api/v1/",
    "APP_OK": "fine",
}


def hostile_secrets(tmp_path: Path) -> tuple[dict[str, str], Path]:
    marker = tmp_path / "bash_env_ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"touch {marker}\n")
    return {name: value.format(script=script) for name, value in HOSTILE.items()}, marker


def test_names_that_change_how_programs_start_are_not_injected(stub: Stub, tmp_path: Path) -> None:
    secrets, marker = hostile_secrets(tmp_path)
    stub.script(load_reply(secrets))
    environment = client_env(stub)
    environment.pop("BASH_ENV", None)
    environment.pop("LD_PRELOAD", None)
    environment.pop("PYTHONSTARTUP", None)
    environment.pop("NODE_OPTIONS", None)
    code = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {sorted(HOSTILE)!r}}}))"
    result = subprocess.run(  # noqa: S603
        secretvault("run", "--", "bash", "-c", 'echo started; exec "$@"', "bash", sys.executable, "-c", code),
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert not marker.exists()  # BASH_ENV was not sourced
    seen = json.loads(result.stdout.splitlines()[1])
    assert seen["APP_OK"] == "fine"
    assert seen["PATH"] == environment["PATH"]  # set already: wins anyway
    for name in ("BASH_ENV", "LD_PRELOAD", "PYTHONSTARTUP", "NODE_OPTIONS"):
        assert seen[name] is None, name
    assert seen["SECRETVAULT_URL"] == stub.url  # the runner's own, not the secret's
    warning = result.stderr.strip()
    assert warning.startswith("secretvault: warning: not injected")
    assert "BASH_ENV, LD_PRELOAD, NODE_OPTIONS, PYTHONSTARTUP" in warning
    assert "--allow-name" in warning
    for value in secrets.values():
        assert value not in result.stderr


def test_allow_name_opts_in_one_name_at_a_time(stub: Stub, tmp_path: Path) -> None:
    secrets, marker = hostile_secrets(tmp_path)
    stub.script(load_reply(secrets))
    environment = client_env(stub)
    environment.pop("BASH_ENV", None)
    result = subprocess.run(  # noqa: S603
        secretvault("run", "--allow-name", "BASH_ENV", "--", "bash", "-c", "echo started"),
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # allowed: bash sourced it, as the user asked
    assert "BASH_ENV" not in result.stderr and "LD_PRELOAD" in result.stderr


def test_a_prefix_keeps_every_secret_out_of_the_dangerous_names(stub: Stub, tmp_path: Path) -> None:
    secrets, marker = hostile_secrets(tmp_path)
    stub.script(load_reply(secrets))
    result = subprocess.run(  # noqa: S603
        secretvault("run", "--prefix", "VAULT_", "--", "bash", "-c", 'echo "$VAULT_BASH_ENV"'),
        env=client_env(stub),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == secrets["BASH_ENV"]
    assert result.stderr == "" and not marker.exists()


def test_a_prefix_that_makes_a_dangerous_name_is_caught_after_prefixing() -> None:
    made = childenv.child_environment({"ENV": "x", "KEY": "y"}, {}, prefix="BASH_")
    assert made.refused == ("BASH_ENV",) and made.environ == {"BASH_KEY": "y"}


@pytest.mark.parametrize(
    "name",
    [
        "LD_AUDIT",
        "DYLD_INSERT_LIBRARIES",
        "PYTHONPATH",
        "PYTHONWARNINGS",
        "BASH_FUNC_ls%%",
        "IFS",
        "PERL5OPT",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "PROMPT_COMMAND",
        "ENV",
        "SECRETVAULT_TOKEN",
        "GCONV_PATH",
    ],
)
def test_refused_names(name: str) -> None:
    assert childenv.is_refused(name)


@pytest.mark.parametrize("name", ["DATABASE_URL", "API_KEY", "LDAP_URL", "ENVIRONMENT", "PATHS", "NODE_ENV"])
def test_ordinary_names_pass(name: str) -> None:
    assert not childenv.is_refused(name)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "--allow-name", "1X", "--", "true"],
            "--allow-name '1X' is not an environment variable name",
        ),
        (["run", "--watch", "--interval", "0", "--", "true"], "is not a number of seconds > 0"),
        (["run", "--watch", "--on-change", "SIGNOPE", "--", "true"], "neither 'restart' nor a signal name"),
    ],
)
def test_run_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from secretvault_client.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("restart", "restart"), ("HUP", signal.SIGHUP), ("SIGUSR1", signal.SIGUSR1), ("15", signal.SIGTERM)],
)
def test_parse_on_change(text: str, expected: object) -> None:
    assert process.parse_on_change(text) == expected


# -- --watch ------------------------------------------------------------------------------


def serve_v1(stub: Stub) -> None:
    """v1, then unchanged (304) until ``serve_v2``."""
    stub.script(load_reply({"WORKERS": "1"}, etag='"1"'), Reply(304, headers={"ETag": '"1"'}))


def serve_v2(stub: Stub) -> None:
    """v2 at the next check (called once the child is ready), then unchanged for good."""
    stub.script(load_reply({"WORKERS": "2"}, etag='"2"'), Reply(304, headers={"ETag": '"2"'}))


def test_watch_restarts_the_child_with_its_new_environment(stub: Stub, tmp_path: Path) -> None:
    serve_v1(stub)
    log = tmp_path / "child.log"
    argv = secretvault("run", "--watch", "--interval", "0.1", "--", *child_command(log, "WORKERS"))
    run = start_detached(argv, client_env(stub))
    wait_for_line(log, "ready ")
    unchanged = len(stub.seen)
    serve_v2(stub)
    lines = wait_for_line(log, "ready ", after="WORKERS='2'")
    first = child_pid(lines[: lines.index("WORKERS='2'")])
    second = child_pid(lines)
    assert lines == ["WORKERS='1'", f"ready {first}", "SIGTERM", "WORKERS='2'", f"ready {second}"]
    assert gone(first) and not gone(second)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 143
    assert "secretvault: notice: secrets changed: restarting the command" in stderr
    assert unchanged >= 1  # the first load
    assert stub.seen[0].headers.get("If-None-Match") == '"1"'  # the check that found v2


def test_watch_can_send_a_signal_instead_and_exits_with_the_last_childs_status(
    stub: Stub, tmp_path: Path
) -> None:
    serve_v1(stub)
    log = tmp_path / "child.log"
    argv = secretvault("run", "--watch", "--interval", "0.1", "--on-change", "HUP", "--", *child_command(log))
    run = start_detached(argv, client_env(stub))
    pid = child_pid(wait_for_line(log, "ready "))
    serve_v2(stub)
    wait_for_line(log, "SIGHUP")  # the child records SIGHUP, then dies of it on its own
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 128 + signal.SIGHUP
    assert gone(pid)
    assert "sending SIGHUP to the command" in stderr


def test_watch_keeps_the_child_running_while_the_server_fails(stub: Stub, tmp_path: Path) -> None:
    stub.script(load_reply({"WORKERS": "1"}), Reply(503, {"detail": "down"}))
    log = tmp_path / "child.log"
    argv = secretvault("--retries", "0", "run", "--watch", "--interval", "0.05", "--", *child_command(log))
    run = start_detached(argv, client_env(stub))
    pid = child_pid(wait_for_line(log, "ready "))
    deadline = time.monotonic() + 30
    while len(stub.seen) < 4 and time.monotonic() < deadline:  # several failed checks
        time.sleep(0.02)
    assert not gone(pid)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 130
    assert "could not check for changed secrets (the command keeps running): HTTP 503" in stderr


# -- a terminal's Ctrl-C -------------------------------------------------------------------

IN_A_TERMINAL = (
    "import fcntl, os, sys, termios\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty on stdin becomes the controlling terminal\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def in_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` as the session leader of a new pseudo-terminal, in its foreground group."""
    master, slave = os.openpty()
    started = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", IN_A_TERMINAL, *argv], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    return started, master


def test_ctrl_c_in_a_terminal_stops_the_child_and_run_exits_130(stub: Stub, tmp_path: Path) -> None:
    """The terminal sends SIGINT to the whole foreground group (run and its child): run does not repeat it."""
    stub.script(load_reply({"WORKERS": "4"}))
    log = tmp_path / "child.log"
    run, master = in_a_terminal(secretvault("run", "--", *child_command(log)), client_env(stub))
    try:
        pid = child_pid(wait_for_line(log, "ready "))
        os.write(master, b"\x03")  # Ctrl-C typed in the terminal
        assert run.wait(timeout=30) == 130
        assert log.read_text().splitlines()[-1] == "SIGINT"
        assert gone(pid)
    finally:
        if run.poll() is None:
            run.kill()
        os.close(master)


def test_run_knows_when_it_is_in_a_terminals_foreground(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = (
        "from secretvault_client.process import _in_terminal_foreground as f\n"
        f"open({str(out)!r}, 'w').write(str(f()))\n"
    )
    # The session leader of a pty, in its foreground group: True.
    started, master = in_a_terminal([sys.executable, "-c", code], dict(os.environ))
    try:
        assert started.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert out.read_text() == "True"
    # Detached from any terminal (setsid, pipes): False.
    detached = start_detached([sys.executable, "-c", code], dict(os.environ))
    detached.communicate(timeout=30)
    assert out.read_text() == "False"
