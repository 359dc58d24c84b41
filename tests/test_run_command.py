"""``manage.py secretvault run`` as a real process: what the child gets, signals, exit status, ``--watch``.

Each test runs ``manage.py`` (the example project, its vault configuration in a
``.env`` file, a SQLite file database) in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.client.runner import (
    child_command,
    child_pid,
    gone,
    signal_number,
    start_detached,
    wait_for_line,
)
from tests.settings import TEST_MASTER_KEY

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")

REPO = Path(__file__).resolve().parent.parent
VAULT_CONFIGURATION = {
    "SECRETVAULT_MASTER_KEYS": TEST_MASTER_KEY,
    "SECRET_KEY": "dotenv-only-django-secret-key",
}


@dataclass
class Project:
    directory: Path
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, str(REPO / "manage.py"), *args]

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603
            self.argv(*args), env=self.env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def run_argv(self, *options: str, command: Sequence[str]) -> list[str]:
        return self.argv("secretvault", "run", "-w", "acme", "--env", "prd", *options, "--", *command)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = tmp_path_factory.mktemp("project")
    database = directory / "db.sqlite3"
    dotenv = directory / ".env"
    configuration = {**VAULT_CONFIGURATION, "DATABASE_URL": f"sqlite:///{database}"}
    dotenv.write_text("".join(f"{name}={value}\n" for name, value in configuration.items()))
    # The shell knows none of the vault's configuration: only the .env file does.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SECRETVAULT_") and name not in ("DATABASE_URL", "SECRET_KEY", "PYTHONSTARTUP")
    }
    env.update(DJANGO_SETTINGS_MODULE="tests.dotenv_settings", RUN_TEST_DOTENV=str(dotenv))
    made = Project(directory, env)
    made.manage("migrate", "-v", "0")
    made.manage("secretvault", "workspace", "create", "acme")
    made.manage("secretvault", "env", "create", "prd", "-w", "acme")
    marker = directory / "bash_env_ran"
    script = directory / "evil.sh"
    script.write_text(f"touch {marker}\n")
    for key, value in {
        "API_KEY": "prd-value",
        "WORKERS": "1",
        "BASH_ENV": str(script),
        "LD_PRELOAD": "/nonexistent/evil.so",
        "SECRETVAULT_URL": "http://attacker.invalid/api/v1/",
    }.items():
        made.manage("secretvault", "set", key, value, "-w", "acme", "--env", "prd")
    return made


def child_env(project: Project, *options: str) -> tuple[dict[str, str], str]:
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    result = subprocess.run(  # noqa: S603
        project.run_argv(*options, command=[sys.executable, "-c", code]),
        env=project.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_the_child_never_sees_the_vaults_own_configuration(project: Project) -> None:
    """Issue #17.1: SECRETVAULT_MASTER_KEYS, DATABASE_URL, SECRET_KEY from the project's .env stay out."""
    seen, _ = child_env(project)
    assert seen["API_KEY"] == "prd-value"
    for name in ("SECRETVAULT_MASTER_KEYS", "DATABASE_URL", "SECRET_KEY"):
        assert name not in seen, name
    for value in VAULT_CONFIGURATION.values():
        assert value not in json.dumps(seen)
    assert not [name for name in seen if name.startswith("SECRETVAULT_")]
    # What the shell gave manage.py does reach the child.
    assert seen["RUN_TEST_DOTENV"] == project.env["RUN_TEST_DOTENV"]


def test_a_vault_variable_in_the_shell_does_not_reach_the_child_either(project: Project) -> None:
    shell = dict(project.env, SECRETVAULT_MASTER_KEYS=TEST_MASTER_KEY)
    code = "import os; print(os.environ.get('SECRETVAULT_MASTER_KEYS'))"
    result = subprocess.run(  # noqa: S603
        project.run_argv(command=[sys.executable, "-c", code]),
        env=shell,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


def test_names_that_change_how_programs_start_are_skipped_with_a_warning(project: Project) -> None:
    """Issue #17.2 under the Django runner: BASH_ENV is not sourced; the warning names keys, not values."""
    marker = project.directory / "bash_env_ran"
    result = subprocess.run(  # noqa: S603
        project.run_argv(command=["bash", "-c", "echo started"]),
        env=project.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "started\n"
    assert not marker.exists()
    assert "not injected" in result.stderr
    assert "BASH_ENV, LD_PRELOAD, SECRETVAULT_URL" in result.stderr
    assert "evil" not in result.stderr and "attacker" not in result.stderr
    seen, _ = child_env(project, "--allow-name", "LD_PRELOAD")
    assert seen["LD_PRELOAD"] == "/nonexistent/evil.so" and "BASH_ENV" not in seen


# Every forwarded signal is covered through the same supervisor in tests/client/test_run.py.
@pytest.mark.parametrize("name", ["SIGINT", "SIGUSR2"])
def test_run_forwards_signals_and_exits_128_plus_n(project: Project, tmp_path: Path, name: str) -> None:
    log = tmp_path / "child.log"
    run = start_detached(project.run_argv(command=child_command(log)), project.env)
    pid = child_pid(wait_for_line(log, "ready ", timeout=60))
    os.kill(run.pid, signal_number(name))  # run only, never its child
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signal_number(name), stderr
    assert log.read_text().splitlines()[-1] == name
    assert gone(pid)


def test_a_supervisor_stopping_run_stops_the_child(project: Project, tmp_path: Path) -> None:
    """Issue #11.4: ``setsid manage.py secretvault run … & kill -TERM $!`` no longer orphans the child."""
    log = tmp_path / "child.log"
    run = start_detached(project.run_argv(command=child_command(log)), project.env)
    pid = child_pid(wait_for_line(log, "ready ", timeout=60))
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) == 143
    assert "SIGTERM" in log.read_text().splitlines()
    assert gone(pid)


def audited_loads(project: Project) -> int:
    with sqlite3.connect(project.directory / "db.sqlite3") as database:
        (count,) = database.execute(
            "SELECT count(*) FROM secretvault_auditevent WHERE action = 'secrets.load'"
        ).fetchone()
    return int(count)


def test_watch_restarts_the_child_when_a_secret_changes(project: Project, tmp_path: Path) -> None:
    loads_before = audited_loads(project)
    log = tmp_path / "child.log"
    argv = project.run_argv("--watch", "--interval", "0.2", command=child_command(log, "WORKERS"))
    run = start_detached(argv, project.env)
    try:
        first = child_pid(wait_for_line(log, "ready ", timeout=60))
        assert log.read_text().splitlines()[0] == "WORKERS='1'"
        project.manage("secretvault", "set", "WORKERS", "2", "-w", "acme", "--env", "prd")
        lines = wait_for_line(log, "ready ", after="WORKERS='2'", timeout=60)
        assert lines[:3] == ["WORKERS='1'", f"ready {first}", "SIGTERM"]
        assert gone(first)
        second = child_pid(lines)
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 143
        assert gone(second)
        assert "secretvault: notice: secrets changed: restarting the command" in stderr
    finally:
        if run.poll() is None:
            run.kill()
    # One audited load at the start and one for the change: the checks in between (every
    # 0.2 s) compared ETags, decrypted nothing and recorded nothing.
    assert audited_loads(project) == loads_before + 2


def test_watch_leaves_the_child_alone_when_a_write_does_not_change_its_map(
    project: Project, tmp_path: Path
) -> None:
    """A metadata-only write moves the workspace's ETag; the watcher then compares the map
    itself, finds it unchanged, and does not restart the command."""
    import time

    log = tmp_path / "child.log"
    argv = project.run_argv("--watch", "--interval", "0.2", command=child_command(log, "WORKERS"))
    run = start_detached(argv, project.env)
    try:
        first = child_pid(wait_for_line(log, "ready ", timeout=60))
        current = log.read_text().splitlines()[0].removeprefix("WORKERS='").removesuffix("'")
        loads_before = audited_loads(project)
        project.manage(
            "secretvault",
            "set",
            "WORKERS",
            current,
            "-w",
            "acme",
            "--env",
            "prd",
            "--description",
            "metadata only",
        )
        time.sleep(3)  # some fifteen polls (not a timing assertion: nothing may happen at all)
        assert "SIGTERM" not in log.read_text()
        assert not gone(first)
        assert audited_loads(project) == loads_before  # compared, never decrypted
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
