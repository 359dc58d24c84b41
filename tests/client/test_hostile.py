"""The client against a hostile or broken server on the loopback interface, and a planted fallback file.

Issue #17.4 (deadline, body cap), #17.5 (fallback file), #17.8 (Retry-After, plain http).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from secretvault_client import (
    ConfigurationError,
    ResponseTooLargeError,
    SecretVaultClient,
    ThrottledError,
    TransportError,
)
from secretvault_client.core import MAX_RETRY_AFTER, is_loopback, parse_retry_after
from tests.client.conftest import VAULT_VARIABLES, Reply, Stub, load_reply


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by ``behaviour(conn)``."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/v1/"
        self.behaviour = behaviour
        self.closing = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                self.behaviour(conn)
            except OSError:
                pass  # the client gave up: what the tests want

    def close(self) -> None:
        self.closing.set()
        self.listener.close()


def trickle(conn: socket.socket, data: bytes, *, pause: float = 0.2, limit: float = 20.0) -> None:
    """Send ``data`` one byte at a time (for at most ``limit`` seconds, so a failing test still ends)."""
    ends = time.monotonic() + limit
    for byte in data:
        if time.monotonic() > ends:
            return
        conn.sendall(bytes([byte]))
        time.sleep(pause)


BODY = json.dumps({"workspace": "acme", "env": "prd", "secrets": {"A": "1"}}).encode()
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client_for(url: str, **options: object) -> SecretVaultClient:
    options.setdefault("retries", 0)
    return SecretVaultClient(url=url, token="svt_id_s3kr1t", workspace="acme", env="prd", **options)  # type: ignore[arg-type]


# -- a total deadline per call ------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(lambda conn: trickle(conn, HEADERS + BODY), id="headers-trickled"),
        pytest.param(lambda conn: (conn.sendall(HEADERS), trickle(conn, BODY)), id="body-trickled"),
    ],
)
def test_a_trickling_server_cannot_hold_the_client_past_its_timeout(
    raw_server: Callable[..., RawServer], behaviour: Callable[[socket.socket], None]
) -> None:
    server = raw_server(behaviour)
    client = client_for(server.url, timeout=0.5, retries=3)
    with pytest.raises(TransportError, match="timed out: no complete answer within 0.5 s") as caught:
        client.load()
    assert "s3kr1t" not in str(caught.value)


def test_export_timeout_bounds_the_whole_command(raw_server: Callable[..., RawServer]) -> None:
    """``secretvault export --timeout 2`` against a server sending a byte every 0.2 s (issue #17.4)."""
    server = raw_server(lambda conn: trickle(conn, HEADERS + BODY))
    environment = {name: value for name, value in os.environ.items() if name not in VAULT_VARIABLES}
    environment.update(
        SECRETVAULT_URL=server.url, SECRETVAULT_TOKEN="svt_id_s3kr1t", SECRETVAULT_WORKSPACE="acme"
    )
    # Without the deadline the command runs as long as the trickle (20 s): past this bound.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "secretvault_client", "export", "--timeout", "2", "--env", "prd"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode == 1
    assert "timed out: no complete answer within 2 s" in result.stderr
    assert result.stdout == ""


# -- a cap on the body --------------------------------------------------------------------


def endless(conn: socket.socket, header: bytes) -> None:
    conn.sendall(header)
    chunk = b"0" * 65536
    for _ in range(2000):  # 128 MiB at most
        conn.sendall(chunk)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 800000000\r\n\r\n", id="declared"),
        pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", id="undeclared"),
    ],
)
def test_an_oversized_body_is_refused_unread(raw_server: Callable[..., RawServer], header: bytes) -> None:
    server = raw_server(lambda conn: endless(conn, header))
    client = client_for(server.url, max_response_bytes=1024 * 1024, timeout=30)
    with pytest.raises(ResponseTooLargeError, match="answered more than 1048576 bytes") as caught:
        client.load()
    assert caught.value.limit == 1024 * 1024


def test_the_default_cap_is_a_few_megabytes() -> None:
    client = client_for("http://127.0.0.1:9/api/v1/")
    assert 1024 * 1024 <= client.max_response_bytes <= 16 * 1024 * 1024


def test_max_response_bytes_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        client_for("http://127.0.0.1:9/api/v1/", max_response_bytes=0)


# -- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("1e9", MAX_RETRY_AFTER),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        (formatdate(1_000_000_060, usegmt=True), 60.0),
        (formatdate(999_999_000, usegmt=True), 0.0),
    ],
)
def test_retry_after_is_finite_non_negative_and_bounded(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=1_000_000_000) == expected


@pytest.mark.parametrize(("header", "expected"), [("1e9", MAX_RETRY_AFTER), ("nan", None), ("-1", None)])
def test_throttled_error_from_a_hostile_server(stub: Stub, header: str, expected: float | None) -> None:
    stub.script(Reply(429, {"detail": "Slow down."}, {"Retry-After": header}))
    with pytest.raises(ThrottledError) as caught:
        client_for(stub.url).load()
    assert caught.value.retry_after == expected


@pytest.mark.parametrize("given", [float("inf"), float("nan"), -1.0, 1e12])
def test_throttled_error_sanitises_whatever_it_is_given(given: float) -> None:
    retry_after = ThrottledError(429, "x", retry_after=given).retry_after
    assert retry_after is None or 0 <= retry_after <= MAX_RETRY_AFTER


# -- plain http:// -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://vault.example.com/api/v1/", "http://10.0.0.5:8000/api/v1/", "http://[2001:db8::1]/api/v1/"],
)
def test_plain_http_to_another_host_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRETVAULT_ALLOW_HTTP", raising=False)
    with pytest.raises(ConfigurationError, match="unencrypted") as caught:
        client_for(url)
    assert "s3kr1t" not in str(caught.value)
    assert client_for(url, allow_http=True).url == url
    monkeypatch.setenv("SECRETVAULT_ALLOW_HTTP", "1")
    assert client_for(url).url == url


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.9.8.7", "[::1]", "localhost", "api.localhost", "LOCALHOST."]
)
def test_plain_http_to_this_machine_is_fine(host: str) -> None:
    assert client_for(f"http://{host}:8000/api/v1/").url.startswith("http://")


@pytest.mark.parametrize(
    ("host", "expected"), [("localhost", True), ("localhost.evil.com", False), ("128.0.0.1", False)]
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_https_to_another_host_is_fine() -> None:
    assert client_for("https://vault.example.com/api/v1/").url == "https://vault.example.com/api/v1/"


def test_cli_allow_http_option(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    from secretvault_client.cli import main

    argv = ["get", "A", "--url", "http://vault.example.com/api/v1/", "--token", "svt_a_b", "-w", "acme"]
    assert main(argv) == 2
    assert "--allow-http" in capsys.readouterr().err
    stub.script(load_reply({"A": "1"}))
    # Allowed, the client goes ahead (to the loopback stub under another name: the check is on the URL).
    assert (
        main(
            [
                "get",
                "A",
                "--url",
                stub.url.replace("127.0.0.1", "127.0.0.1.nip.invalid"),
                "--token",
                "svt_a_b",
                "-w",
                "acme",
                "--retries",
                "0",
                "--allow-http",
            ]
        )
        == 1
    )
    assert "Cannot connect" in capsys.readouterr().err


# -- the fallback file ---------------------------------------------------------------------


def saved_file(path: Path, url: str, *, saved_at: int | None = None, mode: int = 0o600) -> None:
    document = {
        "format": 1,
        "url": url,
        "workspace": "acme",
        "env": "prd",
        "scope": None,
        "saved_at": int(time.time()) if saved_at is None else saved_at,
        "secrets": {"DATABASE_URL": "postgres://attacker@evil/db"},
    }
    path.write_text(json.dumps(document))
    path.chmod(mode)


@pytest.fixture
def down(stub: Stub) -> Stub:
    stub.script(Reply(503, {"detail": "down"}))
    return stub


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_fallback_file_writable_by_others_is_ignored(
    down: Stub, tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.json"
    saved_file(path, down.url, mode=mode)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"), pytest.raises(Exception, match="503"):
        client_for(down.url, fallback_file=path).load()
    assert "writable by other users" in caplog.text
    assert "attacker" not in caplog.text


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_fallback_file_planted_by_another_user_is_ignored(
    down: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.json"
    saved_file(path, down.url, mode=0o644)
    os.chown(path, 65534, 65534)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"), pytest.raises(Exception, match="503"):
        client_for(down.url, fallback_file=path).load()
    assert "owned by another user" in caplog.text


def test_a_fifo_at_the_fallback_path_does_not_hang_the_load(
    down: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.json"
    os.mkfifo(path, 0o600)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            client_for(down.url, fallback_file=path).load()
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    with caplog.at_level(logging.WARNING, logger="secretvault.client"):
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        worker.join(30)
    if worker.is_alive():  # unblock the old code's open() so the thread can end
        with open(path, "wb"):
            pass
        pytest.fail("load() blocked on the FIFO")
    assert outcome and "503" in str(outcome[0])
    assert "not a regular file" in caplog.text


def test_a_symlinked_fallback_file_is_ignored(
    down: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = tmp_path / "elsewhere.json"
    saved_file(real, down.url)
    path = tmp_path / "fallback.json"
    path.symlink_to(real)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"), pytest.raises(Exception, match="503"):
        client_for(down.url, fallback_file=path).load()
    assert "fallback file" in caplog.text and "ignored" in caplog.text


def test_fallback_max_age_honours_saved_at(
    down: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.json"
    saved_file(path, down.url, saved_at=int(time.time()) - 7200)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"), pytest.raises(Exception, match="503"):
        client_for(down.url, fallback_file=path, fallback_max_age=3600).load()
    assert "older than fallback_max_age" in caplog.text
    served = client_for(down.url, fallback_file=path, fallback_max_age=3 * 3600)
    assert served.load()["DATABASE_URL"] and served.last_load_source == "fallback"


def test_a_fallback_file_saved_in_the_future_is_malformed(down: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    saved_file(path, down.url, saved_at=int(time.time()) + 86400)
    with pytest.raises(Exception, match="503"):
        client_for(down.url, fallback_file=path).load()


def test_a_fallback_file_written_by_the_client_is_trusted(stub: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    stub.script(load_reply({"A": "1"}))
    client_for(stub.url, fallback_file=path).load()
    stub.script(Reply(503, {"detail": "down"}))
    again = client_for(stub.url, fallback_file=path, fallback_max_age=60)
    assert dict(again.load()) == {"A": "1"} and again.last_load_source == "fallback"
