#!/usr/bin/env python3
"""CI check of the client distribution alone: scripts/client_smoke.py [--keep]

Builds both wheels (``pip wheel --no-deps``), installs ONLY the
secretvault-client wheel into a bare virtualenv (no index, no dependencies, so
no Django), starts the example project on a fresh SQLite database on a free
loopback port, and drives ``secretvault get``, ``export``, ``run``,
``run --watch``, ``load()``, ``refresh()``, ``watch()`` and ``max_stale`` from the
bare virtualenv against it. Exits non-zero on the first
failure. Run it with the project's own interpreter (``.venv/bin/python``),
which serves the example project. ``--keep`` leaves the temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "DATABASE_URL": "postgres://billing:pw@db.internal:5432/billing",
    "WORKERS": "4",
    "MULTILINE": "line one\nline 'two' $HOME \\ #",
}


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(argv: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, **options)  # type: ignore[call-overload]  # noqa: S603
    if result.returncode != 0:
        sys.stderr.write(
            f"FAILED ({result.returncode}): {' '.join(argv)}\n{result.stdout}\n{result.stderr}\n"
        )
        raise SystemExit(1)
    return result


def expect(condition: bool, message: str) -> None:
    if not condition:
        sys.stderr.write(f"FAILED: {message}\n")
        raise SystemExit(1)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    expect(False, f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    work = Path(tempfile.mkdtemp(prefix="secretvault-client-smoke-"))
    server: subprocess.Popen[str] | None = None
    try:
        step("building both wheels")
        dist = work / "dist"
        run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), "./client", "."],
            cwd=ROOT,
        )
        wheels = sorted(path.name for path in dist.glob("*.whl"))
        expect(len(wheels) == 2, f"two wheels expected, got {wheels}")
        client_wheel = next(dist.glob("secretvault_client-*.whl"))

        step("installing the client wheel alone into a bare virtualenv")
        bare = work / "bare"
        run([sys.executable, "-m", "venv", str(bare)])
        python = str(bare / "bin" / "python")
        run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(client_wheel)])
        listed = run([python, "-m", "pip", "list", "--format", "json"]).stdout
        installed = {entry["name"].lower() for entry in json.loads(listed)}
        expect(
            installed - {"pip", "setuptools"} == {"secretvault-client"},
            f"only the client expected: {installed}",
        )
        probe = "import importlib.util as u; print([m for m in ('django', 'secretvault') if u.find_spec(m)])"
        expect(
            run([python, "-c", probe], cwd=work).stdout.strip() == "[]", "Django or secretvault importable"
        )

        step("starting the example project on a fresh database")
        manage = [sys.executable, str(ROOT / "manage.py")]
        key = run([*manage, "secretvault", "generate-key"], env={**os.environ, "SECRETVAULT_MASTER_KEYS": ""})
        server_env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("SECRETVAULT_") and name not in ("DATABASE_URL", "DEBUG")
        }
        server_env.update(
            SECRETVAULT_MASTER_KEYS=key.stdout.strip().splitlines()[-1],
            DATABASE_URL=f"sqlite:///{work / 'vault.sqlite3'}",
            CACHE_URL="locmemcache://",
        )
        run([*manage, "migrate", "-v", "0"], env=server_env, cwd=ROOT)
        run([*manage, "secretvault", "workspace", "create", "acme"], env=server_env, cwd=ROOT)
        run([*manage, "secretvault", "env", "create", "prd", "-w", "acme"], env=server_env, cwd=ROOT)
        for name, value in SECRETS.items():
            run(
                [*manage, "secretvault", "set", name, "--stdin", "-w", "acme", "--env", "prd"],
                env=server_env,
                cwd=ROOT,
                input=value,
            )
        created = run(
            [*manage, "secretvault", "token", "create", "-w", "acme", "--name", "smoke", "--env", "prd"],
            env=server_env,
            cwd=ROOT,
        )
        token = created.stdout.strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(  # noqa: S603
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=server_env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}/api/v1/"
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "schema/", timeout=2).close()  # noqa: S310 (loopback)
                break
            except OSError:
                if server.poll() is not None:
                    expect(False, f"the server exited: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.5)
        else:
            expect(False, "the server did not answer within 60 s")

        client_env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("SECRETVAULT_") and name not in SECRETS and not name.startswith("PYTHON")
        }
        client_env.update(SECRETVAULT_URL=url, SECRETVAULT_TOKEN=token, SECRETVAULT_ENV="prd")
        script = str(bare / "bin" / "secretvault")

        step("secretvault get")
        got = run([script, "get", "MULTILINE"], env=client_env, cwd=work)
        expect(got.stdout == SECRETS["MULTILINE"] + "\n", "get printed another value")

        step("secretvault export")
        exported = run([script, "export", "--format", "json"], env=client_env, cwd=work)
        expect(json.loads(exported.stdout) == SECRETS, "export --format json differs")
        dotenv = run([script, "export"], env=client_env, cwd=work).stdout
        expect(dotenv.count("\n") == len(SECRETS), "export (dotenv) is not one line per secret")

        step("secretvault run")
        show = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {sorted(SECRETS)!r}}}))"
        ran = run([script, "run", "--", python, "-c", show], env=client_env, cwd=work)
        expect(json.loads(ran.stdout) == SECRETS, "run gave the child other variables")
        status = subprocess.run(  # noqa: S603
            [script, "run", "--", python, "-c", "raise SystemExit(7)"], env=client_env, cwd=work, timeout=60
        )
        expect(status.returncode == 7, "run did not pass the exit status through")

        step("load() from Python")
        code = (
            "from secretvault_client import SecretVaultClient\n"
            "client = SecretVaultClient()\n"
            "secrets = client.load()\n"
            "assert client.workspace == 'acme', client.workspace\n"
            "assert secrets['WORKERS'].to_int() == 4\n"
            "assert client.refresh() is secrets and client.last_load_source == 'revalidated'\n"
            "import json; print(json.dumps(dict(secrets)))\n"
        )
        loaded = run([python, "-c", code], env=client_env, cwd=work)
        expect(json.loads(loaded.stdout) == SECRETS, "load() returned another map")

        step("secretvault run --watch restarts the command when a secret changes")
        log = work / "watch.log"
        child = (
            "import os, sys, time\n"
            f"open({str(log)!r}, 'a').write(os.environ['WORKERS'] + '\\n')\n"
            "time.sleep(600)\n"
        )
        watching = subprocess.Popen(  # noqa: S603
            [script, "run", "--watch", "--interval", "0.5", "--", python, "-c", child],
            env=client_env,
            cwd=work,
        )
        try:
            wait_for(lambda: log.exists() and log.read_text() == "4\n", "the first child")
            run(
                [*manage, "secretvault", "set", "WORKERS", "5", "-w", "acme", "--env", "prd"],
                env=server_env,
                cwd=ROOT,
            )
            wait_for(lambda: log.read_text() == "4\n5\n", "the restarted child")
            watching.terminate()
            expect(watching.wait(timeout=30) == 143, "run --watch did not exit 143 on SIGTERM")
        finally:
            if watching.poll() is None:
                watching.kill()

        step("watch() and max_stale from Python")
        code = (
            "import sys, threading\n"
            "from secretvault_client import SecretVaultClient\n"
            "client = SecretVaultClient(max_stale=600, retries=0)\n"
            "first = client.load()\n"
            "changed = threading.Event()\n"
            "watch = client.watch(lambda old, new: changed.set(), interval=0.2)\n"
            "print('ready', flush=True)\n"
            "assert changed.wait(60), 'no change seen'\n"
            "watch.stop()\n"
            "print(client.load()['WORKERS'], flush=True)\n"
            "sys.stdin.readline()  # the server is stopped now\n"
            "stale = client.refresh()\n"
            "assert client.last_load_source == 'stale', client.last_load_source\n"
            "print(stale['WORKERS'], flush=True)\n"
        )
        watcher = subprocess.Popen(  # noqa: S603
            [python, "-c", code],
            env=client_env,
            cwd=work,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if watcher.stdin is None or watcher.stdout is None:
            raise SystemExit(1)
        expect(watcher.stdout.readline() == "ready\n", "the watching client did not start")
        run(
            [*manage, "secretvault", "set", "WORKERS", "6", "-w", "acme", "--env", "prd"],
            env=server_env,
            cwd=ROOT,
        )
        expect(watcher.stdout.readline() == "6\n", "watch() did not see the change")
        server.terminate()
        server.wait(timeout=30)
        watcher.stdin.write("\n")
        watcher.stdin.flush()
        expect(watcher.stdout.readline() == "6\n", "max_stale did not serve the last map")
        expect(watcher.wait(timeout=60) == 0, "the watching client failed")
        step("the client wheel works alone")
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
