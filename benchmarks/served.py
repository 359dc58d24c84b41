"""Served throughput (SPEC §14, issue #14.3): gunicorn, 4 workers, PostgreSQL and Redis.

16 client threads drive, in alternating phases of equal length, ``load`` of 100
secrets (a 200 each time), the same ``load`` revalidated (a 304 each time), and
the plain DRF list of the same 100 rows, all on loopback against one gunicorn
started for the run (bounded in time: it is stopped at the end, whatever
happens). Requests/s, p50 and p99 latency of each, and the ratios to the plain
list. Skipped (``None``) unless the run is on PostgreSQL with Redis reachable.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 4
CLIENTS = 16
SIZE = 100


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
        client.close()
    except Exception:  # noqa: BLE001 - no Redis: the benchmark is skipped
        return None
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """``benchmarks.wsgi`` under gunicorn on a free loopback port, on the run's database."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "DATABASE_URL": database_url,
            "BENCH_REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable, "-m", "gunicorn", "benchmarks.wsgi:application",
                "--workers", str(WORKERS), "--bind", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "2", "--timeout", "60", "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "gunicorn exited: " + (self.process.stderr.read() if self.process.stderr else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start within 30 s")

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={**headers, "Connection": "close"})
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _phase(
    server: Gunicorn, path: str, headers: dict[str, str], expected: int, seconds: float
) -> dict[str, Any]:
    """``CLIENTS`` threads requesting ``path`` for ``seconds``: counts and latencies (ms)."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors = [0] * CLIENTS
    start_line = threading.Barrier(CLIENTS + 1)
    stop_at: list[float] = [0.0]

    def client(index: int) -> None:
        start_line.wait()
        mine = latencies[index]
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                status, _body, _headers = server.get(path, headers)
            except OSError:
                status = 0
            mine.append((time.perf_counter() - began) * 1000)
            if status != expected:
                errors[index] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    return {
        "latencies": [x for bucket in latencies for x in bucket],
        "elapsed": elapsed,
        "errors": sum(errors),
    }


def _summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(x for phase in phases for x in phase["latencies"])
    elapsed = sum(phase["elapsed"] for phase in phases)
    if not latencies:
        return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0}
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "requests": len(latencies),
        "errors": sum(phase["errors"] for phase in phases),
    }


def run(bench: Any, seconds: float) -> dict[str, Any]:
    """Run the phases (``seconds`` each, in two rounds) and return the results' keys."""
    from django.db import connection

    from secretvault.models import Workspace

    skipped = {"served": None, "served_load_vs_plain_drf": None, "served_revalidate_vs_plain_drf": None}
    if connection.vendor != "postgresql":
        bench.log("served throughput: skipped (PostgreSQL only; set DATABASE_URL)")
        return skipped
    redis_url = _redis_url()
    if redis_url is None:
        bench.log("served throughput: skipped (no Redis on 127.0.0.1:6379)")
        return skipped
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    workspace = Workspace.objects.get(slug=f"load-{SIZE}")
    raw = bench.token(workspace)
    auth = {"Authorization": f"Bearer {raw}"}
    load_path = f"/api/v1/workspaces/{workspace.slug}/load/"
    plain_path = f"/plain/{SIZE}/"
    server = Gunicorn(database_url, redis_url)
    try:
        status, _body, headers = server.get(load_path, auth)
        assert status == 200, status
        etag = headers.get("ETag") or headers.get("etag") or ""
        targets = {
            "load": (load_path, auth, 200),
            "revalidate": (load_path, {**auth, "If-None-Match": etag}, 304),
            "plain_drf": (plain_path, {}, 200),
        }
        for path, extra, expected in targets.values():  # warm every worker
            for _ in range(WORKERS * 2):
                assert server.get(path, extra)[0] == expected
        phases: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _round in range(2):
            for name, (path, extra, expected) in targets.items():
                phases[name].append(_phase(server, path, extra, expected, seconds / 2))
    finally:
        server.stop()
    summary = {name: _summary(runs) for name, runs in phases.items()}
    plain_rps = summary["plain_drf"]["rps"] or 1.0
    for name, figures in summary.items():
        bench.log(
            f"served {name:>10}: {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']} ms"
            f"  p99 {figures['p99_ms']} ms  errors {figures['errors']}"
        )
    return {
        "served": {
            "workers": WORKERS,
            "clients": CLIENTS,
            "secrets": SIZE,
            "seconds_each": seconds,
            "load": summary["load"],
            "revalidate": summary["revalidate"],
            "plain_drf": summary["plain_drf"],
        },
        "served_load_vs_plain_drf": round(summary["load"]["rps"] / plain_rps, 3),
        "served_revalidate_vs_plain_drf": round(summary["revalidate"]["rps"] / plain_rps, 3),
    }
