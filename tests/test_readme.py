"""README's install snippets work when pasted into a fresh ``django-admin startproject``.

The snippets are read from README.md (each fenced block after a
``<!-- readme-snippet: NAME -->`` marker), so README and this test cannot drift:
the settings, database and urls blocks are appended to the new project's files,
the shell block's commands are run in order (its ``export`` line takes the key
``generate-key`` printed), and the project then serves one API call through
``runserver``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_SNIPPET = re.compile(r"<!-- readme-snippet: (\w+) -->\n```\w*\n(.*?)```", re.DOTALL)

pytestmark = pytest.mark.slow


def snippets() -> dict[str, str]:
    found = {name: body for name, body in _SNIPPET.findall(README.read_text(encoding="utf-8"))}
    assert set(found) == {"settings", "database", "urls", "shell"}, sorted(found)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Project:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "SECRETVAULT_", "DATABASE_", "REDIS_", "CACHE_"))
        }

    def manage(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", *argv],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        if check:
            assert result.returncode == 0, (argv, result.stdout, result.stderr)
        return result


@pytest.fixture
def project(tmp_path: Path) -> Project:
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], check=True, timeout=60
    )
    found = snippets()
    settings = tmp_path / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + found["settings"] + "\n" + found["database"])
    urls = tmp_path / "mysite" / "urls.py"
    urls.write_text(urls.read_text() + "\n" + found["urls"])
    return Project(tmp_path)


def run_shell_snippet(project: Project, text: str) -> str:
    """Run the README's commands; returns the master key generate-key printed."""
    key = ""
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[:2] == ["python", "manage.py"]:
            result = project.manage(*words[2:])
            if words[2:4] == ["secretvault", "generate-key"]:
                key = result.stdout.strip().splitlines()[-1]
                # A first install: no talk of rotation.
                assert "first master key" in result.stderr and "rotate" not in result.stderr
            if words[2:3] == ["check"]:
                # The snippets make a project secretvault has nothing to warn about
                # (W020: memberships need the permission backend).
                assert "secretvault." not in result.stderr + result.stdout, result.stderr
        elif words[0] == "export" and words[1].startswith("SECRETVAULT_MASTER_KEYS="):
            assert key, "the shell snippet sets the key before generating it"
            project.env["SECRETVAULT_MASTER_KEYS"] = key
        else:
            raise AssertionError(f"README shell snippet: no rule to run {line!r}")
    return key


def test_readme_snippets_make_a_working_project(project: Project) -> None:
    # Before the key exists, check fails clearly (and generate-key still works: below).
    missing = project.manage("check", check=False)
    assert missing.returncode != 0
    assert "MASTER_KEYS" in missing.stderr

    key = run_shell_snippet(project, snippets()["shell"])
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9_-]{43}", key)
    assert (project.directory / "db.sqlite3").exists()  # env.db's SQLite default

    project.manage("secretvault", "workspace", "create", "acme")
    project.manage("secretvault", "env", "create", "prd", "-w", "acme")
    project.manage("secretvault", "set", "GREETING", "-w", "acme", "--env", "prd", "--", "-hello $HOME\n")
    raw = project.manage("secretvault", "token", "create", "-w", "acme", "--name", "ci").stdout.split()[-1]

    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project.directory,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/workspaces/acme/load/?env=prd",
            headers={"Authorization": f"Bearer {raw}"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                    body = json.loads(response.read())
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert body["secrets"] == {"GREETING": "-hello $HOME\n"}
