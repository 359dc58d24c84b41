"""schemathesis against a live server, as a service token and as a session user.

``python -m tests.fuzz [--max-examples N] [--seed S]`` (``.ci/run`` runs it):

1. a fresh SQLite database in a temporary directory, migrated, with a throwaway master key;
2. ``tests.fuzz.seed``: a workspace, environments, secrets, a write token and a session;
3. gunicorn serving the example project (``tests.fuzz.settings``) on a loopback socket
   bound to port 0 (the kernel picks a free port; gunicorn inherits the socket);
4. ``schemathesis run`` with ``--checks all`` and every phase (examples, coverage,
   fuzzing, stateful), seeded, once with the write token (``Authorization: Bearer``)
   and once with the session (cookie ``sessionid`` + ``X-CSRFToken``; the CSRF secret
   lives in the session, ``CSRF_USE_SESSIONS``).

Exit status: 0 when both runs found nothing; otherwise the first non-zero status of
schemathesis (or 2 when the server did not come up). Reports (JUnit XML) go to
``--report-dir`` (default ``test-artifacts/schemathesis``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = "/api/v1/schema/?format=json"

#: Shared by both runs: every ``{ws}`` is the seeded workspace (a token sees no other).
COMMON_CONFIG = """
[parameters]
"path.ws" = "acme"
"""

#: Per-run schemathesis configuration; ``${NAME}`` is read from the environment.
CONFIGS = {
    "token": """
[auth.openapi.serviceToken]
bearer = "${SV_FUZZ_TOKEN}"
""",
    "session": """
headers = { "X-CSRFToken" = "${SV_FUZZ_CSRF}", "X-Requested-With" = "schemathesis" }

[auth.openapi.cookieAuth]
api_key = "${SV_FUZZ_SESSIONID}"
""",
}


def _python() -> str:
    return sys.executable


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=ROOT, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def server_env(workdir: Path) -> dict[str, str]:
    """The environment of the setup commands and of the server."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECRETVAULT_", "DATABASE_", "CACHE_"))
    }
    from secretvault.crypto import generate_master_key

    env.update(
        DJANGO_SETTINGS_MODULE="tests.fuzz.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'fuzz.sqlite3'}",
        CACHE_URL="locmemcache://",
        SECRETVAULT_MASTER_KEYS=generate_master_key(),
        PYTHONPATH=str(ROOT),
    )
    return env


@contextmanager
def live_server(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """gunicorn on 127.0.0.1 and a kernel-chosen port; yields the base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    log = (workdir / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            _bin("gunicorn"),
            "example_project.wsgi:application",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            "2",
            "--timeout",
            "60",
            "--log-level",
            "warning",
            # The API takes up to 100 scope tags of 64 characters in one query (6.5 KB);
            # gunicorn's default request line (4094 bytes) would answer 414 first.
            "--limit-request-line",
            "8190",
        ],
        env=env,
        cwd=ROOT,
        pass_fds=[listener.fileno()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    listener.close()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + SCHEMA_PATH, server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback URL)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer {url} within {timeout:.0f}s")
        time.sleep(0.5)


def schemathesis(
    base: str, principal: str, credentials: dict[str, str], args: argparse.Namespace, workdir: Path
) -> int:
    """One seeded ``schemathesis run``; its exit status."""
    config = workdir / f"schemathesis-{principal}.toml"
    config.write_text(CONFIGS[principal] + COMMON_CONFIG)
    env = {
        **os.environ,
        "SV_FUZZ_TOKEN": credentials["token"],
        "SV_FUZZ_SESSIONID": credentials["sessionid"],
        "SV_FUZZ_CSRF": credentials["csrftoken"],
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "PYTHONPATH": str(ROOT),
    }
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [
        _bin("schemathesis"),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        base + SCHEMA_PATH,
        "--url",
        base,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "1",
        # Generation speed on a busy machine is not a finding about the API.
        "--suppress-health-check",
        "too_slow",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(report_dir / f"{principal}.xml"),
    ]
    print(f"\n---- schemathesis as the {principal} ----", flush=True)
    return subprocess.run(command, env=env, cwd=workdir, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=5, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--report-dir", default=str(ROOT / "test-artifacts" / "schemathesis"))
    parser.add_argument(
        "--as", dest="principals", action="append", choices=sorted(CONFIGS), help="default: both"
    )
    args = parser.parse_args(argv)
    principals = args.principals or ["token", "session"]

    with tempfile.TemporaryDirectory(prefix="secretvault-fuzz-") as tmp:
        workdir = Path(tmp)
        env = server_env(workdir)
        _run([_python(), "-m", "django", "migrate", "--no-input", "-v", "0"], env)
        seeded = _run([_python(), "-m", "tests.fuzz.seed"], env, capture_output=True).stdout
        credentials = json.loads(seeded)
        status = 0
        try:
            with live_server(env, workdir) as base:
                print(f"server: {base} (gunicorn, 2 workers, fresh SQLite)", flush=True)
                for principal in principals:
                    code = schemathesis(base, principal, credentials, args, workdir)
                    status = status or code
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print((workdir / "gunicorn.log").read_text(), file=sys.stderr)
            return 2
        server_log = (workdir / "gunicorn.log").read_text()
        if server_log.strip():
            print("---- server log ----\n" + server_log, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
