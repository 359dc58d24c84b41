"""The example project under gunicorn, 4 worker processes, PostgreSQL and Redis, 16 clients.

Bounded in time. Afterwards: versions gap-free and equal in number to the
acknowledged writes, no 5xx, every load a complete and well-formed map, a token
revoked mid-run refused by every worker from its next request, and failed
authentication throttled across workers through Redis without refusing a valid
token (#10.4); wrong passwords on the API and the admin login counted, audited
and locked per username and address across workers (#10.5).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import connection

from secretvault import services
from secretvault.models import Secret, SecretVersion
from tests.settings import TEST_MASTER_KEY

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"
KEYS = [f"KEY_{i}" for i in range(5)]
RUN_SECONDS = 8.0


def _redis_available() -> bool:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.flushdb()
        return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self) -> None:
        db = connection.settings_dict
        self.port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "CACHE_URL": REDIS_URL,
            "SECRETVAULT_MASTER_KEYS": TEST_MASTER_KEY,
            "DEBUG": "false",
            "SECRET_KEY": "multiworker-test-" + os.urandom(8).hex(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # Finding #10.5 is about passwords on the API: turn Basic on for this server.
            "SECRETVAULT_API_BASIC_AUTH": "true",
        }
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "example_project.wsgi:application",
                "--workers", "4", "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "2",
                "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "gunicorn exited: " + (self.process.stdout.read() if self.process.stdout else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def request(
        self,
        method: str,
        path: str,
        token: str | None,
        body: dict | None = None,
        source: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
        form: str | None = None,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        try:
            sent = {"Connection": "close", **(headers or {})}
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            payload = None
            if body is not None:
                payload = json.dumps(body)
                sent["Content-Type"] = "application/json"
            elif form is not None:
                payload = form
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=payload, headers=sent)
            response = conn.getresponse()
            data = response.read()
            self.last_headers = response.getheaders()
            return response.status, data
        finally:
            conn.close()

    def stop(self) -> str:
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""


@pytest.fixture
def server():
    if not _redis_available():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    instance = Server()
    yield instance
    instance.stop()


def test_four_workers_sixteen_clients(server):
    workspace = services.create_workspace(slug="fleet")
    for key in KEYS:
        services.create_secret(workspace, key=key, value=f"{key}|init|0")
    _, writer_token = services.create_token(workspace, name="writers", can_write=True)
    _, reader_token = services.create_token(workspace, name="readers")
    doomed, doomed_raw = services.create_token(workspace, name="doomed")

    lock = threading.Lock()
    acknowledged = {key: 0 for key in KEYS}
    statuses: list[int] = []
    problems: list[str] = []
    doomed_log: list[tuple[float, int]] = []
    revoked_at: list[float] = []
    stop_at = time.monotonic() + RUN_SECONDS
    load_path = "/api/v1/workspaces/fleet/load/"

    def writer(index: int) -> None:
        rng = random.Random(index)
        n = 0
        while time.monotonic() < stop_at:
            key = rng.choice(KEYS)
            n += 1
            status, data = server.request(
                "PATCH",
                f"/api/v1/workspaces/fleet/secrets/{key}/",
                writer_token,
                {"value": f"{key}|w{index}|{n}"},
            )
            with lock:
                statuses.append(status)
                if status == 200:
                    acknowledged[key] += 1
                else:
                    problems.append(f"write {key}: {status} {data[:120]!r}")

    def loader(index: int) -> None:
        while time.monotonic() < stop_at:
            status, data = server.request("GET", load_path, reader_token)
            with lock:
                statuses.append(status)
            if status != 200:
                with lock:
                    problems.append(f"load: {status} {data[:120]!r}")
                continue
            secrets_map = json.loads(data)["secrets"]
            if sorted(secrets_map) != KEYS or any(
                not value.startswith(f"{key}|") for key, value in secrets_map.items()
            ):
                with lock:
                    problems.append(f"inconsistent map: {sorted(secrets_map)}")

    def doomed_client() -> None:
        refusals = 0
        while time.monotonic() < stop_at and refusals < 4:
            started = time.monotonic()
            status, _ = server.request("GET", load_path, doomed_raw)
            with lock:
                doomed_log.append((started, status))
            # A few more tries after a refusal (each worker may answer one), well under
            # the failure throttle's limit for this address.
            refusals += status == 401
            time.sleep(0.05)

    def revoker() -> None:
        time.sleep(RUN_SECONDS / 2)
        services.revoke_token(doomed)
        revoked_at.append(time.monotonic())
        connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=loader, args=(i,)) for i in range(7)]
    threads += [threading.Thread(target=doomed_client), threading.Thread(target=revoker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RUN_SECONDS + 60)

    assert problems == []
    assert statuses and not [s for s in statuses if s >= 500]
    assert len(statuses) > 100  # the run did real work
    # Versions: gap-free, and exactly one per acknowledged write (no lost or phantom update).
    for key in KEYS:
        secret = Secret.objects.get(workspace=workspace, key=key)
        numbers = list(
            SecretVersion.objects.filter(secret=secret).order_by("version").values_list("version", flat=True)
        )
        assert numbers == list(range(1, secret.current_version + 1)), key
        assert secret.current_version == 1 + acknowledged[key], key
    # The audit chain stayed whole with four processes appending (each caching its own head).
    from secretvault.audit import verify_chain

    workspace.refresh_from_db()
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert report.checked > len(statuses) // 2
    # The revoked token: accepted before, refused by whichever worker answered next.
    assert revoked_at, "the revocation did not happen"
    after = [status for started, status in doomed_log if started > revoked_at[0]]
    assert after and set(after) == {401}
    assert any(status == 200 for started, status in doomed_log if started < revoked_at[0])

    # Failed authentication from one address is counted across all four workers
    # (within one fixed window of the throttle).
    from tests.conftest import wait_for_a_fresh_throttle_window

    wait_for_a_fresh_throttle_window(margin=10)
    bogus = "svt_0123456789abcdef_" + "A" * 49
    seen = [server.request("GET", load_path, bogus, source="127.0.0.2")[0] for _ in range(30)]
    assert seen[:20] == [401] * 20
    assert set(seen[20:]) == {429}
    # Finding #10.4: a valid token from the locked-out address is served by every worker.
    assert [server.request("GET", load_path, reader_token, source="127.0.0.2")[0] for _ in range(8)] == [
        200
    ] * 8
    # Another address is not affected.
    assert server.request("GET", load_path, reader_token, source="127.0.0.3")[0] == 200


def _fresh_hour_window(margin: float = 60.0) -> None:
    """The password limit counts in fixed hours of the wall clock: do not straddle two."""
    into = time.time() % 3600
    if into > 3600 - margin:
        time.sleep(3600.2 - into)


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _admin_login(server: Server, source: str, password: str) -> tuple[int, str]:
    """One admin login (GET the form for its CSRF token, POST it): ``(status, Location)``."""
    status, page = server.request("GET", "/admin/login/", None, source=source)
    assert status == 200
    cookie = next(value for name, value in server.last_headers if name.lower() == "set-cookie")
    csrf_cookie = cookie.split(";")[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": "mw-root", "password": password, "next": "/admin/"}
    )
    status, _ = server.request(
        "POST", "/admin/login/", None, source=source, headers={"Cookie": csrf_cookie}, form=form
    )
    location = next((value for name, value in server.last_headers if name.lower() == "location"), "")
    return status, location


def test_password_guessing_is_limited_across_workers(server, django_user_model):
    """Finding #10.5 across four workers: wrong passwords are counted through Redis, audited,
    and lock the username from that address (the right password too); others are unaffected."""
    from secretvault.models import AuditEvent

    services.create_workspace(slug="pw")
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    # The example project checks passwords with Django's default hashers (the tests' MD5 is not one).
    user = django_user_model.objects.create_superuser("mw-root", "root@example.com")
    user.password = PBKDF2PasswordHasher().encode("right-password-1", "multiworkersalt", iterations=1000)
    user.save(update_fields=["password"])
    path = "/api/v1/workspaces/pw/secrets/"
    _fresh_hour_window()
    # API Basic: ten wrong passwords, spread over the workers (one connection each).
    wrong = [
        server.request("GET", path, None, source="127.0.0.5", headers=_basic("mw-root", f"guess-{n}"))[0]
        for n in range(10)
    ]
    assert wrong == [401] * 10
    right = _basic("mw-root", "right-password-1")
    assert [server.request("GET", path, None, source="127.0.0.5", headers=right)[0] for _ in range(4)] == [
        429
    ] * 4
    assert server.request("GET", path, None, source="127.0.0.6", headers=right)[0] == 200
    # The admin login: ten wrong passwords, then the right one is refused too.
    for n in range(10):
        assert _admin_login(server, "127.0.0.7", f"guess-{n}") == (200, "")
    assert _admin_login(server, "127.0.0.7", "right-password-1") == (200, "")
    status, location = _admin_login(server, "127.0.0.8", "right-password-1")
    assert status == 302 and location == "/admin/"
    # Audited, never with a password.
    events = AuditEvent.objects.filter(action="auth.failed", detail__username="mw-root")
    reasons = sorted(event.detail["reason"] for event in events)
    assert reasons == ["password"] * 20 + ["password_locked"]
    assert {event.remote_addr for event in events} == {"127.0.0.5", "127.0.0.7"}
    assert not [
        event
        for event in events
        if "guess" in json.dumps(event.detail) or "right" in json.dumps(event.detail)
    ]
