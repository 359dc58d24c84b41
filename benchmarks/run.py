"""The benchmark run.

Every figure is a median over repeated measurements, taken in the same process
and run as its baseline, so the ratios hold on any machine. The run builds its
own data in a fresh database (SQLite file by default, a ``test_*`` PostgreSQL
database with ``DATABASE_URL``) and drops it afterwards.

Query counts are exact; the run exits 1 when a count that must not depend on
the number of secrets does (that is what CI checks with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import django


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    django.setup()


def median_ms(*funcs: Callable[[], Any], repeat: int, warmup: int = 2) -> list[float]:
    """Median wall time of each function, in milliseconds.

    The functions are run in turn, sample by sample (A, B, A, B, ...), so that
    whatever else the machine does at a moment weighs on the figure and on its
    baseline alike.
    """
    for _ in range(warmup):
        for func in funcs:
            func()
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for func, bucket in zip(funcs, samples, strict=True):
            start = time.perf_counter()
            func()
            bucket.append((time.perf_counter() - start) * 1000)
    return [statistics.median(bucket) for bucket in samples]


class Bench:
    def __init__(self, quick: bool, log: Callable[[str], None], with_served: bool = False) -> None:
        from django.test import Client

        self.quick = quick
        self.with_served = with_served
        self.log = log
        self.client = Client()
        self.results: dict[str, Any] = {}
        self.sizes = [10, 100, 1000]
        self.repeat = 5 if quick else 60
        self.admin_sizes = [100, 1000] if quick else [100, 10_000]

    # -- data ---------------------------------------------------------------------------

    @staticmethod
    def value(i: int) -> str:
        return f"sk_live_{i:06d}_" + secrets.token_urlsafe(24)

    def fill(self, slug: str, count: int, start: int = 0) -> Any:
        """A workspace with ``count`` secrets, written in bulk (identical rows to the service's)."""
        from secretvault import services
        from secretvault.models import Secret, SecretVersion, VersionAction, Workspace

        workspace = Workspace.objects.filter(slug=slug).first() or services.create_workspace(slug=slug)
        for offset in range(start, start + count, 1000):
            chunk = range(offset, min(offset + 1000, start + count))
            rows = [Secret(workspace=workspace, key=f"KEY_{i:06d}", current_version=1) for i in chunk]
            Secret.objects.bulk_create(rows)
            versions = []
            for secret, i in zip(rows, chunk, strict=True):
                data_key_id, blob = secret.encrypt(self.value(i), 1, workspace)
                versions.append(
                    SecretVersion(
                        secret=secret,
                        version=1,
                        ciphertext=blob,
                        data_key_id=data_key_id,
                        action=VersionAction.CREATE,
                    )
                )
            SecretVersion.objects.bulk_create(versions)
        return workspace

    def token(self, workspace: Any, **kwargs: Any) -> str:
        from secretvault import services

        _, raw = services.create_token(workspace, name="bench", **kwargs)
        return raw

    # -- measurements -------------------------------------------------------------------

    def admin_changelist(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
        self.client.force_login(user)
        counts: dict[str, int] = {}
        filled = 0
        for size in self.admin_sizes:
            self.fill("admin-list", size - filled, start=filled)
            filled = size
            response = self.client.get("/admin/secretvault/secret/")
            assert response.status_code == 200, response.status_code
            with CaptureQueriesContext(connection) as ctx:
                self.client.get("/admin/secretvault/secret/")
            counts[str(size)] = count_queries(ctx)
            self.log(f"admin changelist with {size} secrets: {counts[str(size)]} queries")
        self.client.logout()
        self.results["admin_changelist_queries"] = counts

    def load(self) -> None:
        from django.conf import settings
        from django.db import connection
        from django.test import override_settings
        from django.test.utils import CaptureQueriesContext

        from benchmarks.baseline.models import PlainSecret

        unaudited = override_settings(SECRETVAULT={**settings.SECRETVAULT, "AUDIT_READS": False})
        load_ms, plain_ms, ratio, queries, unaudited_ms = {}, {}, {}, {}, {}
        for size in self.sizes:
            workspace = self.fill(f"load-{size}", size)
            raw = self.token(workspace)
            url = f"/api/v1/workspaces/{workspace.slug}/load/"
            auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
            response = self.client.get(url, **auth)
            assert response.status_code == 200, response.content[:200]
            assert len(response.json()["secrets"]) == size
            PlainSecret.objects.bulk_create(
                PlainSecret(group=size, key=f"KEY_{i:06d}", value=self.value(i)) for i in range(size)
            )
            plain_url = f"/plain/{size}/"
            assert len(self.client.get(plain_url).json()) == size
            repeat = self.repeat if size < 1000 else max(5, self.repeat // 2)
            load_ms[str(size)], plain_ms[str(size)] = median_ms(
                lambda u=url, a=auth: self.client.get(u, **a),
                lambda u=plain_url: self.client.get(u),
                repeat=repeat,
            )
            ratio[str(size)] = round(load_ms[str(size)] / plain_ms[str(size)], 3)
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(url, **auth)
            queries[str(size)] = count_queries(ctx)
            # The same load without its audit event (AUDIT_READS off): what auditing every read costs.
            with unaudited:
                unaudited_ms[str(size)] = median_ms(
                    lambda u=url, a=auth: self.client.get(u, **a), repeat=repeat
                )[0]
            self.log(
                f"load {size:>5}: {load_ms[str(size)]:8.2f} ms  plain DRF {plain_ms[str(size)]:8.2f} ms"
                f"  ratio {ratio[str(size)]:.2f}  queries {queries[str(size)]}"
                f"  (unaudited {unaudited_ms[str(size)]:.2f} ms)"
            )
        self.results.update(
            load_ms=_round(load_ms),
            plain_drf_ms=_round(plain_ms),
            load_vs_plain_drf=ratio,
            load_queries=queries,
            load_unaudited_ms=_round(unaudited_ms),
        )

    def revalidate(self) -> None:
        """A 304 (``If-None-Match``) against a plain DRF list of 10 rows, and its query count."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        revalidate_ms, queries = {}, {}
        plain_10 = "/plain/10/"
        assert len(self.client.get(plain_10).json()) == 10  # made by load()
        for size in self.sizes:
            from secretvault.models import Workspace

            workspace = Workspace.objects.get(slug=f"load-{size}")
            raw = self.token(workspace)
            url = f"/api/v1/workspaces/{workspace.slug}/load/"
            auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
            etag = self.client.get(url, **auth)["ETag"]
            conditional = {**auth, "HTTP_IF_NONE_MATCH": etag}
            assert self.client.get(url, **conditional).status_code == 304
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(url, **conditional)
            queries[str(size)] = count_queries(ctx)
            ms, plain_ms = median_ms(
                lambda u=url, c=conditional: self.client.get(u, **c),
                lambda: self.client.get(plain_10),
                repeat=self.repeat * 2,
            )
            revalidate_ms[str(size)] = ms
            if size == 10:
                self.results["revalidate_vs_plain_drf"] = round(ms / plain_ms, 3)
                self.results["revalidate_plain_drf_10_ms"] = round(plain_ms, 3)
            self.log(
                f"revalidate {size:>5}: {ms:8.3f} ms (304)  plain DRF list of 10 {plain_ms:8.3f} ms"
                f"  queries {queries[str(size)]}"
            )
        self.results.update(revalidate_ms=_round(revalidate_ms), revalidate_queries=queries)

    def auth(self) -> None:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        workspace = self.fill("auth", 1)
        raw = self.token(workspace)
        user = get_user_model().objects.create_user("drf-token-user")
        drf_key = Token.objects.create(user=user).key
        ours = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        theirs = {"HTTP_AUTHORIZATION": f"Token {drf_key}"}
        assert self.client.get("/ping/servicetoken/", **ours).status_code == 200
        assert self.client.get("/ping/drftoken/", **theirs).status_code == 200
        repeat = self.repeat * 8
        ours_ms, theirs_ms = median_ms(
            lambda: self.client.get("/ping/servicetoken/", **ours),
            lambda: self.client.get("/ping/drftoken/", **theirs),
            repeat=repeat,
        )
        self.results["auth_ms"] = _round({"service_token": ours_ms, "drf_token": theirs_ms})
        self.results["auth_vs_drf_token"] = round(ours_ms / theirs_ms, 3)
        self.log(f"auth: service token {ours_ms:.3f} ms  DRF token {theirs_ms:.3f} ms")

    def decrypt(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from benchmarks.baseline.models import FernetSecret
        from secretvault import crypto, services
        from secretvault.models import Secret

        size = 1000
        workspace = self.fill("decrypt", size)
        FernetSecret.objects.bulk_create(
            FernetSecret(group=size, key=f"KEY_{i:06d}", value=self.value(i)) for i in range(size)
        )

        def ours() -> None:
            from secretvault.models import Workspace

            fresh = Workspace.objects.get(pk=workspace.pk)
            values = services.decrypt_resolved(fresh, Secret.objects.resolve(fresh))
            assert len(values) == size

        def fernet() -> None:
            values = dict(FernetSecret.objects.filter(group=size).values_list("key", "value"))
            assert len(values) == size

        resolved = Secret.objects.resolve(workspace)
        blobs = [
            (bytes(s.current_ciphertext), crypto.value_context(workspace.id, s.id, s.current_version))
            for s in resolved.values()
        ]
        cipher = AESGCM(
            crypto.unwrap_data_key(workspace.id, workspace.data_key_id, workspace.wrapped_data_key)
        )

        def floor() -> None:
            for blob, context in blobs:
                header_end = 2 + blob[1]
                nonce = blob[header_end : header_end + 12]
                cipher.decrypt(nonce, blob[header_end + 12 :], blob[:header_end] + context).decode()

        ours_ms, fernet_ms, floor_ms = median_ms(ours, fernet, floor, repeat=self.repeat)
        self.results["decrypt_ms"] = _round({"secretvault": ours_ms, "fernet_fields": fernet_ms})
        self.results["decrypt_vs_fernet_fields"] = round(ours_ms / fernet_ms, 3)
        self.results["crypto_floor_ms"] = round(floor_ms, 3)
        self.log(f"read 1000 values: secretvault {ours_ms:.2f} ms  fernet fields {fernet_ms:.2f} ms")
        self.log(f"bare AES-GCM floor for 1000 values: {floor_ms:.2f} ms")

    def writes(self) -> None:
        from secretvault import services

        workspace = services.create_workspace(slug="writes")
        services.create_secret(workspace, key="COUNTER", value="0")
        raw = self.token(workspace, can_write=True)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        url = f"/api/v1/workspaces/{workspace.slug}/secrets/COUNTER/"
        count = 40 if self.quick else 200
        start = time.perf_counter()
        for n in range(count):
            response = self.client.patch(
                url, {"value": f"value-{n}"}, content_type="application/json", **auth
            )
            assert response.status_code == 200, response.content[:200]
        elapsed = time.perf_counter() - start
        self.results["write_versions_per_s"] = round(count / elapsed, 1)
        self.log(f"sequential API writes: {count / elapsed:.1f} versions/s")

    def concurrent_writes(self) -> None:
        from django.db import connection

        if connection.vendor != "postgresql":
            self.results["concurrent_writes"] = None
            self.log("concurrent writes: skipped (PostgreSQL only; set DATABASE_URL)")
            return
        from django.db import connections
        from django.test import Client

        from secretvault import services
        from secretvault.models import SecretVersion

        workspace = services.create_workspace(slug="concurrent")
        secret = services.create_secret(workspace, key="HOT", value="start")
        raw = self.token(workspace, can_write=True)
        threads_n, per_thread = 8, 50
        barrier = threading.Barrier(threads_n)
        failures: list[str] = []

        def worker(index: int) -> None:
            client = Client()
            barrier.wait()
            for n in range(per_thread):
                response = client.patch(
                    f"/api/v1/workspaces/{workspace.slug}/secrets/HOT/",
                    {"value": f"{index}-{n}"},
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {raw}",
                )
                if response.status_code != 200:
                    failures.append(str(response.status_code))
            connections.close_all()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        numbers = list(
            SecretVersion.objects.filter(secret=secret).order_by("version").values_list("version", flat=True)
        )
        total = threads_n * per_thread
        self.results["concurrent_writes"] = {
            "threads": threads_n,
            "writes": total,
            "per_s": round(total / elapsed, 1),
            "failures": len(failures),
            # The secret starts at version 1, so 400 writes end at 401; 2..401 are the writes.
            "versions_exact": numbers == list(range(1, total + 2)),
        }
        exact = self.results["concurrent_writes"]["versions_exact"]
        self.log(f"concurrent writes: {total / elapsed:.1f}/s, versions exact: {exact}")

    def served(self) -> None:
        """Requests/s and latency under gunicorn, 4 workers, PostgreSQL and Redis (benchmarks.served).

        Timings only, so not part of a ``--quick`` run (CI) unless ``--served`` asks for it.
        """
        from benchmarks import served

        if self.quick and not self.with_served:
            self.log("served throughput: skipped in a quick run (add --served)")
            return
        self.results.update(served.run(self, seconds=2.0 if self.quick else 6.0))

    def memory(self) -> None:
        from secretvault.models import Workspace

        peaks: dict[str, int] = {}
        targets = {1000: "load-1000", self.admin_sizes[-1]: "admin-list"}
        for size, slug in sorted(targets.items()):
            workspace = Workspace.objects.get(slug=slug)
            raw = self.token(workspace)
            url = f"/api/v1/workspaces/{workspace.slug}/load/"
            self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
            tracemalloc.start()
            response = self.client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert len(response.json()["secrets"]) == size
            peaks[str(size)] = round(peak / 1024)
            self.log(f"peak memory of one load of {size} secrets: {peaks[str(size)]} KiB")
        self.results["load_peak_memory_kib"] = peaks

    def run(self) -> dict[str, Any]:
        self.admin_changelist()
        self.load()
        self.revalidate()
        self.served()
        self.auth()
        self.decrypt()
        self.writes()
        self.concurrent_writes()
        self.memory()
        return self.results


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def count_queries(ctx: Any) -> int:
    """Statements that read or write data (SQLite logs BEGIN/COMMIT as queries, PostgreSQL does not)."""
    return sum(
        1 for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith(_TRANSACTION_CONTROL)
    )


def _round(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in values.items()}


def check(results: dict[str, Any]) -> list[str]:
    """The query-count equalities (counts, never times)."""
    problems = []
    for name in ("load_queries", "revalidate_queries", "admin_changelist_queries"):
        counts = results.get(name) or {}
        if len(set(counts.values())) > 1:
            problems.append(f"{name} differ by size: {counts}")
    # auth, revalidation state, resolve, then the audit append (head compare-and-set, event insert)
    if results.get("load_queries") and max(results["load_queries"].values()) > 5:
        problems.append(f"load runs more than 5 queries: {results['load_queries']}")
    if results.get("revalidate_queries") and max(results["revalidate_queries"].values()) > 2:
        problems.append(f"a revalidation runs more than 2 queries: {results['revalidate_queries']}")
    concurrent = results.get("concurrent_writes")
    if concurrent and (not concurrent["versions_exact"] or concurrent["failures"]):
        problems.append(f"concurrent writes lost or duplicated versions: {concurrent}")
    return problems


def budgets(results: dict[str, Any], vendor: str) -> dict[str, dict[str, Any]]:
    """The time budgets of SPEC §14 beside the figures: ``{name: {value, limit, op, met}}``.

    Reported, never enforced (times are not asserted; ``check`` enforces counts only).
    A figure the run did not take (served throughput in a quick run) has ``value``
    and ``met`` ``None``.
    """
    load = results.get("load_vs_plain_drf") or {}
    wanted: list[tuple[str, Any, str, float]] = [
        ("auth_vs_drf_token", results.get("auth_vs_drf_token"), "<=", 1.0),
        ("load_vs_plain_drf[10]", load.get("10"), "<=", 1.0),
        ("load_vs_plain_drf[100]", load.get("100"), "<=", 1.0),
        ("load_vs_plain_drf[1000]", load.get("1000"), "<=", 0.7 if vendor == "sqlite" else 1.0),
        ("revalidate_vs_plain_drf", results.get("revalidate_vs_plain_drf"), "<=", 0.5),
        ("served_load_vs_plain_drf", results.get("served_load_vs_plain_drf"), ">=", 0.8),
    ]
    report = {}
    for name, value, op, limit in wanted:
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        report[name] = {"value": value, "limit": limit, "op": op, "met": met}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a CI-sized run (fewer repeats, smaller admin list)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object of the results")
    parser.add_argument(
        "--served", action="store_true", help="also run the served-throughput benchmark in a quick run"
    )
    args = parser.parse_args(argv)

    setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    if connection.vendor == "sqlite":
        path = connection.settings_dict["NAME"]
        if os.path.exists(str(path)):
            os.remove(str(path))
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        log(
            f"secretvault benchmarks on {connection.vendor}, Python {platform.python_version()}, "
            f"Django {django.get_version()}, {os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run"
        )
        results = Bench(args.quick, log, with_served=args.served).run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    results["environment"] = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
    }
    results["budgets"] = budgets(results, connection.vendor)
    for name, budget in results["budgets"].items():
        verdict = {True: "met", False: "NOT met", None: "not measured"}[budget["met"]]
        log(f"budget {name} {budget['op']} {budget['limit']}: {budget['value']} ({verdict})")
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    problems = check(results)
    for problem in problems:
        print(f"benchmarks: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0
