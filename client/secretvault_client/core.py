"""``SecretVaultClient``: loads a workspace's secrets over the REST API, caches them, writes them.

Standard library only, and no Django: a service imports this without
configuring Django. HTTP goes through ``http.client`` directly, which never
follows a redirect on its own, so the bearer token is only ever sent to the
configured origin.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import secrets as _random
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from secretvault_client import __version__
from secretvault_client.errors import (
    ConfigurationError,
    HTTPError,
    MissingSecretError,
    ProtocolError,
    SecretVaultError,
    ServerError,
    TransportError,
    error_for_status,
    summarise_body,
)
from secretvault_client.values import SecretValue

#: The client logs here (kept from the days it lived in ``secretvault.client``, so that a
#: Django project's ``LOGGING`` for ``secretvault`` still covers it).
LOGGER_NAME = "secretvault.client"
logger = logging.getLogger(LOGGER_NAME)
# A library logs only where its user configured logging (no "last resort" lines on stderr).
logger.addHandler(logging.NullHandler())

ENV_URL = "SECRETVAULT_URL"
ENV_TOKEN = "SECRETVAULT_TOKEN"  # noqa: S105 (the variable's name, not a token)
ENV_WORKSPACE = "SECRETVAULT_WORKSPACE"
ENV_ENV = "SECRETVAULT_ENV"
ENV_SCOPE = "SECRETVAULT_SCOPE"

DEFAULT_CACHE_TTL = 60.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.2

#: Statuses after which a write is retried: the server says it did not process the request.
_WRITE_RETRY_STATUSES = frozenset({503})

USER_AGENT = f"secretvault-client/{__version__}"

Secrets = Mapping[str, SecretValue]

#: Values of ``SecretVaultClient.last_load_source``.
SOURCE_SERVER = "server"  # a full 200 answer
SOURCE_REVALIDATED = "revalidated"  # 304: the cached map is still current
SOURCE_CACHE = "cache"  # within the TTL, no request made
SOURCE_FALLBACK = "fallback"  # the server was unreachable: read from the fallback file


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: Any


class _ConnectFailed(Exception):
    """The connection was never established: the request certainly did not reach the server."""


def _from_env(value: str | None, name: str) -> str | None:
    if value is not None:
        return value
    found = os.environ.get(name, "").strip()
    return found or None


class SecretVaultClient:
    """A workspace's secrets, as a service sees them.

    Every argument left out is read from the environment: ``SECRETVAULT_URL``
    (base URL of the API, e.g. ``https://vault.example.com/api/v1/``),
    ``SECRETVAULT_TOKEN``, ``SECRETVAULT_WORKSPACE``, ``SECRETVAULT_ENV`` and
    ``SECRETVAULT_SCOPE``. URL and token are required. Without a workspace, the
    client asks the server on first use (``GET workspaces/``) which workspaces
    the token sees, and uses that one when there is exactly one, as for a
    service token; it raises ``ConfigurationError`` when there are none or
    several.

    ``load()`` answers from memory for ``cache_ttl`` seconds, then asks the
    server again with the ETag of the map it holds; an unchanged map costs a
    304 and no transfer. Requests time out after ``timeout`` seconds; reads
    are retried ``retries`` times on connection errors, timeouts and 5xx
    answers, waiting ``backoff``, then twice as long each time.

    ``fallback_file`` (off by default) keeps a copy of the last map loaded **in
    plaintext on disk** (mode 0600) and serves it when the server cannot be
    reached. Only use it where the disk is as trusted as the process's memory.
    The file is matched on the workspace, so a client that must still discover
    its workspace cannot use it while the server is unreachable: set
    ``SECRETVAULT_WORKSPACE`` where the fallback matters.
    The client is safe to share between threads.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        workspace: str | None = None,
        env: str | None = None,
        scope: str | None = None,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        fallback_file: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = _from_env(url, ENV_URL)
        token = _from_env(token, ENV_TOKEN)
        workspace = _from_env(workspace, ENV_WORKSPACE)
        if not url:
            raise ConfigurationError(
                f"No API URL: set {ENV_URL} (e.g. https://host/api/v1/) or pass it (url=, --url)."
            )
        if not token:
            raise ConfigurationError(f"No service token: set {ENV_TOKEN} or pass it (token=, --token).")
        token = token.strip()
        # Printable ASCII without blanks: anything else would be refused by http.client with
        # an error message that quotes the header, token included.
        if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
            raise ConfigurationError(
                f"The service token ({ENV_TOKEN} or token=) holds characters a token never has."
            )
        for name, number in (("cache_ttl", cache_ttl), ("timeout", timeout), ("backoff", backoff)):
            if not isinstance(number, (int, float)) or number < 0 or number != number:
                raise ConfigurationError(f"{name} must be a number of seconds >= 0.")
        if timeout == 0:
            raise ConfigurationError("timeout must be more than 0 seconds.")
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError("retries must be a whole number >= 0.")

        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"{ENV_URL} must be an http:// or https:// URL with a host, e.g. https://host/api/v1/."
            )
        if parts.username or parts.password:
            raise ConfigurationError(f"{ENV_URL} must not hold credentials; the token goes in {ENV_TOKEN}.")
        if parts.query or parts.fragment:
            raise ConfigurationError(f"{ENV_URL} must not have a query string or fragment.")
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(f"{ENV_URL} has an invalid port.") from None

        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = port
        self._base_path = parts.path.rstrip("/") + "/"
        self._token = token
        # None until discovered from the token (first request); then fixed for the client's life.
        self._workspace: str | None = (workspace or "").strip() or None
        self._workspace_lock = threading.Lock()
        self._env = _from_env(env, ENV_ENV)
        self._scope = _from_env(scope, ENV_SCOPE)
        self.cache_ttl = float(cache_ttl)
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.fallback_file = os.fspath(fallback_file) if fallback_file is not None else None
        self._ssl_context = ssl_context
        #: Where the map returned by the last ``load()`` came from: ``"server"``, ``"revalidated"``,
        #: ``"cache"`` or ``"fallback"``; ``None`` before the first load.
        self.last_load_source: str | None = None
        self._lock = threading.RLock()
        self._cached: Mapping[str, SecretValue] | None = None
        self._cached_from_fallback = False
        self._served_env: str | None = None
        self._etag: str | None = None
        self._fresh_until = 0.0

    # -- configuration, read-only after construction (the cache depends on it) -------------

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        netloc = host if self._port is None else f"{host}:{self._port}"
        return f"{self._scheme}://{netloc}{self._base_path}"

    @property
    def workspace(self) -> str | None:
        """The workspace slug: as configured, or as discovered; ``None`` before discovery."""
        return self._workspace

    @property
    def env(self) -> str | None:
        return self._env

    @property
    def scope(self) -> str | None:
        return self._scope

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(url={self.url!r}, workspace={self._workspace!r}, env={self._env!r}, "
            f"scope={self._scope!r}, token=<hidden>)"
        )

    # -- the workspace: configured, or discovered from the token ----------------------------

    def resolve_workspace(self) -> str:
        """The workspace slug; without one configured, the token's only workspace, asked once.

        Discovery is one ``GET workspaces/`` under the usual timeout, retries and
        errors, made on first use and remembered by the client. ``ConfigurationError``
        (naming ``SECRETVAULT_WORKSPACE``) when the token sees no workspace or several.
        """
        workspace = self._workspace
        if workspace is not None:
            return workspace
        with self._workspace_lock:
            # Threads that waited find the answer of the one that asked.
            if self._workspace is None:
                self._workspace = self._discover_workspace()
            return self._workspace

    def _discover_workspace(self) -> str:
        path = self._path("workspaces")
        response = self._request("GET", path)
        body = response.body
        # DRF's paginated list ({"count", "next", "previous", "results"}), or a bare list.
        results = body.get("results") if isinstance(body, Mapping) else body
        if response.status != 200 or not isinstance(results, list):
            raise ProtocolError(
                f"GET {path} answered without a list of workspaces; is {self.url} a secretvault API?"
            )
        count = body.get("count") if isinstance(body, Mapping) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < len(results):
            count = len(results)
        found = [entry.get("slug") if isinstance(entry, Mapping) else None for entry in results]
        slugs = [slug for slug in found if isinstance(slug, str) and slug]
        if len(slugs) != len(found):
            raise ProtocolError(
                f"GET {path} listed a workspace without a slug; is {self.url} a secretvault API?"
            )
        if count == 1 and len(slugs) == 1:
            logger.debug("secretvault: workspace %r discovered from the token", slugs[0])
            return slugs[0]
        if count == 0:
            raise ConfigurationError(
                f"No workspace: the token sees none at {self.url}; "
                f"set {ENV_WORKSPACE} or pass it (workspace=, --workspace)."
            )
        shown = ", ".join(repr(slug[:50]) for slug in slugs[:5])  # slugs are 50 characters at most
        if count > len(slugs[:5]):
            shown += ", ..."
        raise ConfigurationError(
            f"No workspace: the token sees {count} workspaces ({shown}); "
            f"set {ENV_WORKSPACE} or pass it (workspace=, --workspace) to choose one."
        )

    # -- reading -------------------------------------------------------------------------

    def load(self) -> Secrets:
        """Every secret this client's token sees for its environment and scope: ``{KEY: SecretValue}``.

        The mapping is read-only. Within ``cache_ttl`` of the last answer no request
        is made; after it, the map is revalidated with its ETag.
        """
        with self._lock:
            if self._cached is not None and time.monotonic() < self._fresh_until:
                self.last_load_source = SOURCE_FALLBACK if self._cached_from_fallback else SOURCE_CACHE
                return self._cached
            try:
                return self._fetch()
            except (TransportError, ServerError) as exc:
                if not self.fallback_file:
                    raise
                if self._workspace is None:
                    # The file is matched on the workspace, which only the server could name.
                    logger.warning(
                        "secretvault: server unreachable (%s) and the workspace is unknown: the fallback "
                        "file %s cannot be matched; set %s to use it",
                        type(exc).__name__,
                        self.fallback_file,
                        ENV_WORKSPACE,
                    )
                    raise
                fallback = self._read_fallback()
                if fallback is None:
                    raise
                logger.warning(
                    "secretvault: server unreachable (%s); using the fallback file %s (%d secrets)",
                    type(exc).__name__,
                    self.fallback_file,
                    len(fallback),
                )
                # Kept for the TTL like a server answer (the server is not hammered meanwhile),
                # without an ETag: the next revalidation fetches the map in full.
                self._remember(fallback, etag=None, from_fallback=True)
                self.last_load_source = SOURCE_FALLBACK
                return fallback

    def get(self, key: str, default: Any = None) -> SecretValue | Any:
        """The secret ``key``, or ``default`` when it is not set."""
        return self.load().get(key, default)

    def get_required(self, key: str) -> SecretValue:
        """The secret ``key``; ``MissingSecretError`` (naming the key) when it is not set."""
        value = self.load().get(key)
        if value is None:
            raise MissingSecretError(key, workspace=self._workspace, env=self._served_env or self._env)
        return value

    def clear_cache(self) -> None:
        """Forget the cached map: the next ``load()`` fetches it in full."""
        with self._lock:
            self._cached = None
            self._cached_from_fallback = False
            self._etag = None
            self._fresh_until = 0.0

    def _load_path(self, workspace: str) -> str:
        params = {name: value for name, value in (("env", self._env), ("scope", self._scope)) if value}
        return self._path("workspaces", workspace, "load") + (f"?{urlencode(params)}" if params else "")

    def _fetch(self) -> Secrets:
        path = self._load_path(self.resolve_workspace())
        headers = {}
        if self._etag is not None and self._cached is not None:
            headers["If-None-Match"] = self._etag
        response = self._request("GET", path, headers=headers)
        if response.status == 304:
            if self._cached is None:
                raise ProtocolError("The server answered 304 Not Modified to a request without an ETag.")
            self._remember(self._cached, etag=response.headers.get("etag") or self._etag)
            self.last_load_source = SOURCE_REVALIDATED
            return self._cached
        raw = response.body.get("secrets") if isinstance(response.body, Mapping) else None
        if not isinstance(raw, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
        ):
            raise ProtocolError(
                "The load answer has no 'secrets' object of strings; is the URL a secretvault API?"
            )
        loaded = _freeze(raw)
        # Without an env, the server answers for a token's only environment: name that one in errors.
        served_env = response.body.get("env")
        self._served_env = served_env if isinstance(served_env, str) else None
        self._remember(loaded, etag=response.headers.get("etag"))
        self.last_load_source = SOURCE_SERVER
        if self.fallback_file:
            self._write_fallback(raw)
        return loaded

    def _remember(self, secrets: Secrets, *, etag: str | None, from_fallback: bool = False) -> None:
        self._cached = secrets
        self._cached_from_fallback = from_fallback
        self._etag = etag
        self._fresh_until = time.monotonic() + self.cache_ttl

    # -- writing -------------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: str,
        *,
        env: str | None = None,
        description: str | None = None,
        scope: Iterable[str] | None = None,
        token_type: str | None = None,
        expires_at: int | str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Write ``value`` as a new version of ``key``, creating the secret when there is none.

        ``env`` (default: the client's environment) picks the secret that serves
        that environment, as ``load()`` would; a new secret is created for that
        environment alone, or global when there is no environment. ``scope``,
        ``token_type`` and ``expires_at`` apply when the secret is created;
        ``expected_version`` makes the update a check-and-set (``ConflictError``
        when another writer got there first). The token needs ``can_write``.

        Returns the secret's metadata as the server reports it (no value), and
        clears the cache so that the next ``load()`` sees the new value.
        """
        if not isinstance(value, str):
            raise TypeError(f"The value of {key!r} must be a str, not {type(value).__name__}.")
        env = env if env is not None else self._env
        update: dict[str, Any] = {"value": value}
        if description is not None:
            update["description"] = description
        if expected_version is not None:
            update["expected_version"] = expected_version
        query = f"?{urlencode({'env': env})}" if env else ""
        workspace = self.resolve_workspace()
        try:
            try:
                response = self._request(
                    "PATCH", self._path("workspaces", workspace, "secrets", key) + query, payload=update
                )
            except HTTPError as exc:
                if exc.status != 404 or expected_version is not None:
                    raise
                create: dict[str, Any] = {"key": key, "value": value, "envs": [env] if env else []}
                if description is not None:
                    create["description"] = description
                if scope is not None:
                    create["scope"] = list(scope)
                if token_type is not None:
                    create["token_type"] = token_type
                if expires_at is not None:
                    create["expires_at"] = expires_at
                response = self._request(
                    "POST", self._path("workspaces", workspace, "secrets"), payload=create
                )
        finally:
            # Even a failed write may have landed (a timeout after the server committed).
            self.clear_cache()
        return dict(response.body) if isinstance(response.body, Mapping) else {}

    # -- HTTP ----------------------------------------------------------------------------

    def _path(self, *segments: str) -> str:
        return self._base_path + "".join(quote(segment, safe="") + "/" for segment in segments)

    def _request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        payload: Any = None,
    ) -> _Response:
        """One API call, with the retry policy. Returns 2xx and 304 answers; raises for the rest."""
        all_headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        while True:
            try:
                response = self._send(method, path, all_headers, body)
            except _ConnectFailed as exc:
                error: SecretVaultError = TransportError(f"Cannot connect to {self.url}: {exc}")
                retry = True
            except ssl.SSLCertVerificationError as exc:
                # Retrying does not change a certificate.
                raise TransportError(
                    f"TLS certificate of {self.url} not trusted: {exc.verify_message}"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                error = TransportError(f"{method} {self.url} failed: {_describe(exc)}")
                retry = idempotent
            else:
                if response.status < 300 or response.status == 304:
                    return response
                error = self._error(method, path, response)
                retry = response.status >= 500 and (idempotent or response.status in _WRITE_RETRY_STATUSES)
            if not retry or attempt >= self.retries:
                raise error
            delay = self.backoff * (2**attempt)
            attempt += 1
            logger.warning(
                "secretvault: %s %s failed (%s); retry %d of %d in %.2f s",
                method,
                path.split("?")[0],
                error,
                attempt,
                self.retries,
                delay,
            )
            time.sleep(delay)

    def _connection(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self.timeout,
                context=self._ssl_context or ssl.create_default_context(),
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _send(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> _Response:
        connection = self._connection()
        try:
            try:
                connection.connect()
            except ssl.SSLCertVerificationError:
                raise
            except OSError as exc:
                raise _ConnectFailed(_describe(exc)) from None
            connection.request(method, path, body=body, headers=dict(headers))
            answer = connection.getresponse()
            raw = answer.read()
            response_headers = {name.lower(): value for name, value in answer.getheaders()}
        finally:
            connection.close()
        logger.debug("secretvault: %s %s -> %d", method, path.split("?")[0], answer.status)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = _NOT_JSON
        if parsed is _NOT_JSON and (answer.status < 300 or answer.status == 304):
            raise ProtocolError(
                f"{method} {path.split('?')[0]} answered {answer.status} with a body that is not JSON; "
                f"is {self.url} a secretvault API?"
            )
        return _Response(answer.status, response_headers, parsed)

    def _error(self, method: str, path: str, response: _Response) -> HTTPError:
        detail = summarise_body(response.body)
        if detail is None:
            detail = http.client.responses.get(response.status, "Unexpected status")
            if 300 <= response.status < 400:
                # Not followed: the token must not travel to wherever it points.
                detail += f" (redirect not followed; point {ENV_URL} at the final address)"
        retry_after: float | None = None
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(response.headers.get("retry-after", ""))
        return error_for_status(response.status, detail, method=method, path=path, retry_after=retry_after)

    # -- fallback file -------------------------------------------------------------------

    def _fallback_identity(self) -> dict[str, Any]:
        return {"url": self.url, "workspace": self._workspace, "env": self._env, "scope": self._scope}

    def _write_fallback(self, secrets: Mapping[str, str]) -> None:
        """Replace the fallback file atomically; it is created readable by its owner only."""
        assert self.fallback_file is not None  # noqa: S101 (callers check)
        target = os.path.abspath(self.fallback_file)
        temporary = os.path.join(
            os.path.dirname(target), f".{os.path.basename(target)}.{_random.token_hex(8)}.tmp"
        )
        document = {
            "format": 1,
            **self._fallback_identity(),
            "saved_at": int(time.time()),
            "secrets": secrets,
        }
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        )
        try:
            descriptor = os.open(temporary, flags, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(json.dumps(document, ensure_ascii=False).encode())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            # The load itself succeeded; a service should not fail because its safety copy did.
            logger.warning("secretvault: could not write the fallback file %s: %s", target, _describe(exc))

    def _read_fallback(self) -> Secrets | None:
        assert self.fallback_file is not None  # noqa: S101 (callers check)
        try:
            with open(self.fallback_file, "rb") as handle:
                document = json.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("secretvault: fallback file %s unusable: %s", self.fallback_file, _describe(exc))
            return None
        if not isinstance(document, Mapping) or document.get("format") != 1:
            logger.warning(
                "secretvault: fallback file %s is not a secretvault fallback file", self.fallback_file
            )
            return None
        identity = self._fallback_identity()
        if any(document.get(name) != value for name, value in identity.items()):
            logger.warning(
                "secretvault: fallback file %s was written for another URL, workspace, env or scope; ignored",
                self.fallback_file,
            )
            return None
        raw = document.get("secrets")
        if not isinstance(raw, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
        ):
            logger.warning("secretvault: fallback file %s is malformed", self.fallback_file)
            return None
        return _freeze(raw)


_NOT_JSON: Any = object()


def _freeze(raw: Mapping[str, str]) -> Secrets:
    return MappingProxyType({key: SecretValue(key, value) for key, value in raw.items()})


def _describe(exc: BaseException) -> str:
    """A short reason for a transport failure (``OSError`` messages hold no request data)."""
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return "timed out"
    text = str(exc) if isinstance(exc, OSError) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
