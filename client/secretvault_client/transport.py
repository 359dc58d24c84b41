"""One HTTP exchange with the API, bounded in time and in size, through ``http.client``.

``http.client`` never follows a redirect on its own, so the bearer token only
ever goes to the configured origin. Its socket timeout bounds each *read*, not
the exchange: a server trickling one byte a second would never time out. Here a
watchdog shuts the socket down when the exchange's deadline passes, whatever it
is doing (connecting, sending, reading headers or body), and the body is read
in chunks up to a cap. Both failures are the client's own errors (issue #17.4).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Default cap on an answer's body, in bytes. A load of a few thousand typical secrets is
#: well under it; a workspace that really holds more raises ``max_response_bytes``.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024

#: The parsed body of an answer that was not JSON.
NOT_JSON: Any = object()


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any  # parsed JSON, None when empty, NOT_JSON otherwise


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int | None
    ssl_context: ssl.SSLContext | None = None


class ConnectFailed(Exception):
    """The connection was never established: the request certainly did not reach the server."""


class DeadlineExceeded(Exception):
    """The exchange did not finish within its deadline."""


class TooLarge(Exception):
    """The body is longer than the cap. ``limit`` is the cap in bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"more than {limit} bytes")


def _connection(endpoint: Endpoint, timeout: float) -> http.client.HTTPConnection:
    if endpoint.scheme == "https":
        return http.client.HTTPSConnection(
            endpoint.host,
            endpoint.port,
            timeout=timeout,
            context=endpoint.ssl_context or ssl.create_default_context(),
        )
    return http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)


def _read_capped(answer: http.client.HTTPResponse, limit: int) -> bytes:
    declared = answer.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = answer.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)


def send(
    endpoint: Endpoint,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    timeout: float,
    max_bytes: int,
) -> Response:
    """Send one request and read its answer, all of it within ``timeout`` seconds.

    Raises ``ConnectFailed`` (nothing reached the server), ``DeadlineExceeded``,
    ``TooLarge``, ``ssl.SSLCertVerificationError``, or ``OSError`` /
    ``http.client.HTTPException`` for a connection that broke midway.
    """
    connection = _connection(endpoint, timeout)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            # The plain socket's shutdown, even under TLS: it wakes a blocked read in the
            # other thread without touching the TLS object that thread is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            connection.connect()
        except ssl.SSLCertVerificationError:
            raise
        except OSError as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise DeadlineExceeded() from None
            raise ConnectFailed(describe(exc)) from None
        if expired.is_set():
            raise DeadlineExceeded()
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            answer = connection.getresponse()
            raw = _read_capped(answer, max_bytes)
        except TooLarge:
            raise
        except (OSError, ValueError, http.client.HTTPException):
            if expired.is_set():
                raise DeadlineExceeded() from None
            raise
        if expired.is_set():
            raise DeadlineExceeded()
        response_headers = {name.lower(): value for name, value in answer.getheaders()}
    finally:
        watchdog.cancel()
        connection.close()
    parsed: Any = None
    if raw:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # nested deeper than json recurses: not the API
            parsed = NOT_JSON
    return Response(answer.status, response_headers, parsed)


def describe(exc: BaseException) -> str:
    """A short reason for a transport failure (``OSError`` messages hold no request data)."""
    if isinstance(exc, (TimeoutError, DeadlineExceeded)):  # socket.timeout is TimeoutError since 3.10
        return "timed out"
    text = str(exc) if isinstance(exc, OSError) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
