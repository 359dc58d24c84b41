"""Fixtures of the client tests: a seeded workspace behind the live server, and a scripted stub server."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from secretvault_client import SecretVaultClient

VAULT_VARIABLES = (
    "SECRETVAULT_URL",
    "SECRETVAULT_TOKEN",
    "SECRETVAULT_WORKSPACE",
    "SECRETVAULT_ENV",
    "SECRETVAULT_SCOPE",
)

#: What the prd view of the seeded workspace holds (the prd API_KEY overrides the global one).
PRD_SECRETS = {
    "API_KEY": "prd-api-key",
    "DEBUG": "Off",
    "WORKERS": "4",
    "RATIO": "0.25",
    "FEATURES": '{"beta": true, "limits": [1, 2]}',
    "TRICKY": 'line one\nline "two" $HOME #not-a-comment \\back\\slash\ttab',
}
DEV_SECRETS = {
    "API_KEY": "dev-api-key",
    "DEBUG": "Off",
    "RATIO": "0.25",
    "FEATURES": '{"beta": true, "limits": [1, 2]}',
}


@pytest.fixture(autouse=True)
def _no_vault_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own SECRETVAULT_* variables must not leak into a test."""
    for name in VAULT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Vault:
    """The live server's API URL and the seeded workspace, plus tokens to reach it."""

    url: str
    workspace: Any
    read_token: str = field(repr=False)  # envs=["prd"], read only
    make_token: Callable[..., tuple[Any, str]] = field(repr=False)

    def client(self, token: str | None = None, **kwargs: Any) -> SecretVaultClient:
        kwargs.setdefault("workspace", self.workspace.slug)
        kwargs.setdefault("env", "prd")
        kwargs.setdefault("backoff", 0.01)
        return SecretVaultClient(url=self.url, token=token or self.read_token, **kwargs)


@pytest.fixture
def vault(live_server: Any, workspace: Any, dev: Any, prd: Any, make_secret: Any, make_token: Any) -> Vault:
    make_secret("API_KEY", "global-api-key")
    make_secret("API_KEY", PRD_SECRETS["API_KEY"], envs=["prd"])
    make_secret("API_KEY", DEV_SECRETS["API_KEY"], envs=["dev"])
    for key in ("DEBUG", "RATIO", "FEATURES"):
        make_secret(key, PRD_SECRETS[key])
    make_secret("WORKERS", PRD_SECRETS["WORKERS"], envs=["prd"])
    make_secret("TRICKY", PRD_SECRETS["TRICKY"], envs=["prd"])
    _, raw = make_token(envs=["prd"])
    return Vault(url=f"{live_server.url}/api/v1/", workspace=workspace, read_token=raw, make_token=make_token)


@pytest.fixture
def http_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every HTTP request the process sends through http.client, as ``(method, url)``."""
    sent: list[tuple[str, str]] = []
    original = http.client.HTTPConnection.request

    def counting(self: http.client.HTTPConnection, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        sent.append((method, url))
        original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", counting)
    return sent


# -- a scripted HTTP server on the loopback interface ---------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Stub:
    """Answers each request with the next scripted ``Reply``; the last one repeats."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply(404, {"detail": "Not found."})]
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    stub.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                    reply = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else b""
                if reply.body is not None and not isinstance(reply.body, bytes):
                    payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.status != 304:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if reply.status != 304:
                    self.wfile.write(payload)

            do_GET = do_PATCH = do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client hung up first (timeout tests): expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)
            self.seen.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.close()


def load_reply(secrets: dict[str, str], etag: str = '"v1"', env: str | None = "prd") -> Reply:
    return Reply(200, {"workspace": "acme", "env": env, "secrets": secrets}, {"ETag": etag})
