"""``SecretVaultClient``: loads a workspace's secrets over the REST API, caches them, writes them.

Standard library only, and no Django: a service imports this without
configuring Django. HTTP goes through ``http.client`` directly, which never
follows a redirect on its own, so the bearer token is only ever sent to the
configured origin.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import math
import os
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from secretvault_client import __version__, fallback, transport
from secretvault_client.errors import (
    _MAX_RETRY_AFTER,
    ConfigurationError,
    HTTPError,
    MissingSecretError,
    PermissionDeniedError,
    ProtocolError,
    ResponseTooLargeError,
    SecretVaultError,
    ServerError,
    TransportError,
    error_for_status,
    in_client_terms,
    summarise_body,
)
from secretvault_client.transport import DEFAULT_MAX_RESPONSE_BYTES, Endpoint, Response

if TYPE_CHECKING:
    from secretvault_client.watch import Watch
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
ENV_ALLOW_HTTP = "SECRETVAULT_ALLOW_HTTP"

DEFAULT_CACHE_TTL = 60.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.2

#: ``ThrottledError.retry_after`` never exceeds this many seconds, whatever the server says.
MAX_RETRY_AFTER = _MAX_RETRY_AFTER

#: Statuses after which a write is retried: the server says it did not process the request.
_WRITE_RETRY_STATUSES = frozenset({503})

USER_AGENT = f"secretvault-client/{__version__}"

Secrets = Mapping[str, SecretValue]

#: Values of ``SecretVaultClient.last_load_source``.
SOURCE_SERVER = "server"  # a full 200 answer
SOURCE_REVALIDATED = "revalidated"  # 304: the cached map is still current
SOURCE_CACHE = "cache"  # within the TTL, no request made
SOURCE_FALLBACK = "fallback"  # the server was unreachable: read from the fallback file
SOURCE_STALE = "stale"  # the server was unreachable or failed: the last good map, within max_stale


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

    ``timeout`` bounds a whole call — connecting, sending, reading the answer,
    and any retries with their waits — so a server that answers a byte at a time
    cannot hold the client longer (``TransportError``, "timed out"). An answer
    longer than ``max_response_bytes`` (default 8 MiB) raises
    ``ResponseTooLargeError`` without being read further.

    ``max_stale`` (seconds, off by default) keeps a service running through an
    outage: when the server cannot be reached or answers 5xx, ``load()`` returns
    the last map the server gave, for at most that long after it was last
    confirmed, logging a warning with its age. A 401, 403 or 404 is always
    raised: a revoked token must not keep working from memory.

    A plain ``http://`` URL to a host other than this machine is refused
    (``ConfigurationError``): the token would cross the network in clear. Pass
    ``allow_http=True`` (or set ``SECRETVAULT_ALLOW_HTTP=1``) for a network you
    trust, e.g. a sidecar or a private overlay.

    ``fallback_file`` (off by default) keeps a copy of the last map loaded **in
    plaintext on disk** (mode 0600) and serves it when the server cannot be
    reached. Only use it where the disk is as trusted as the process's memory.
    The file is matched on the workspace, so a client that must still discover
    its workspace cannot use it while the server is unreachable: set
    ``SECRETVAULT_WORKSPACE`` where the fallback matters. It is only read when
    it is a regular file owned by the current user and writable by nobody else;
    ``fallback_max_age`` (seconds) also ignores a copy saved longer ago.
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
        fallback_max_age: float | None = None,
        max_stale: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_http: bool | None = None,
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
        if not token_checksum_ok(token):
            raise ConfigurationError(
                f"The service token ({ENV_TOKEN} or token=) is not a valid service token: mistyped or "
                "truncated? Its checksum does not match; copy it again from where it was created."
            )
        seconds = [("cache_ttl", cache_ttl), ("timeout", timeout), ("backoff", backoff)]
        seconds += [
            (name, value)
            for name, value in (("max_stale", max_stale), ("fallback_max_age", fallback_max_age))
            if value is not None
        ]
        for name, number in seconds:
            if not isinstance(number, (int, float)) or not 0 <= number < math.inf:
                raise ConfigurationError(f"{name} must be a number of seconds >= 0.")
        if timeout == 0:
            raise ConfigurationError("timeout must be more than 0 seconds.")
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError("retries must be a whole number >= 0.")
        if (
            not isinstance(max_response_bytes, int)
            or isinstance(max_response_bytes, bool)
            or max_response_bytes < 1
        ):
            raise ConfigurationError("max_response_bytes must be a whole number of bytes > 0.")

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
        if allow_http is None:
            allow_http = os.environ.get(ENV_ALLOW_HTTP, "").strip().lower() in ("1", "true", "yes", "on")
        if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
            raise ConfigurationError(
                f"{ENV_URL} is plain http:// to {parts.hostname[:100]}, another machine: the token would "
                f"cross the network unencrypted. Use https://, or allow it for a network you trust "
                f"(allow_http=True, --allow-http, or {ENV_ALLOW_HTTP}=1)."
            )

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
        self.fallback_max_age = None if fallback_max_age is None else float(fallback_max_age)
        self.max_stale = None if max_stale is None else float(max_stale)
        self.max_response_bytes = max_response_bytes
        self._endpoint = Endpoint(self._scheme, self._host, self._port, ssl_context)
        #: Where the map returned by the last ``load()`` came from: ``"server"``, ``"revalidated"``,
        #: ``"cache"`` or ``"fallback"``; ``None`` before the first load.
        self.last_load_source: str | None = None
        self._lock = threading.RLock()
        self._cached: Mapping[str, SecretValue] | None = None
        self._cached_from_fallback = False
        self._served_env: str | None = None
        self._etag: str | None = None
        self._fresh_until = 0.0
        # When the server last gave or confirmed the cached map (monotonic seconds); None: never.
        self._confirmed_at: float | None = None

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
        is made; after it, the map is revalidated with its ETag. When the server
        cannot be reached or answers 5xx, the last good map is served for up to
        ``max_stale`` seconds, then the fallback file (if any); otherwise the
        error is raised (``TransportError``, ``ServerError``, ``HTTPError`` ...).
        """
        with self._lock:
            if self._cached is not None and time.monotonic() < self._fresh_until:
                if self.last_load_source not in (SOURCE_FALLBACK, SOURCE_STALE):
                    self.last_load_source = SOURCE_CACHE
                return self._cached
            try:
                return self._fetch()
            except (TransportError, ServerError) as exc:
                stale = self._serve_stale(exc)
                if stale is not None:
                    return stale
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
                saved = fallback.read(
                    self.fallback_file,
                    self._fallback_identity(),
                    max_bytes=self.max_response_bytes,
                    max_age=self.fallback_max_age,
                )
                if saved is None:
                    raise
                logger.warning(
                    "secretvault: server unreachable (%s); using the fallback file %s "
                    "(%d secrets, saved %.0f s ago)",
                    type(exc).__name__,
                    self.fallback_file,
                    len(saved.secrets),
                    saved.age,
                )
                loaded = _freeze(saved.secrets)
                # Kept for the TTL like a server answer (the server is not hammered meanwhile),
                # without an ETag: the next revalidation fetches the map in full.
                self._remember(loaded, etag=None, from_fallback=True)
                self.last_load_source = SOURCE_FALLBACK
                return loaded

    def refresh(self) -> Secrets:
        """Ask the server now, whatever the cache's age: ``load()`` with the cached map considered stale.

        Costs one revalidation (a 304 when nothing changed); errors as ``load()``.
        """
        with self._lock:
            self._fresh_until = 0.0
            return self.load()

    def watch(
        self, callback: Callable[[Secrets | None, Secrets], object], interval: float = DEFAULT_CACHE_TTL
    ) -> Watch:
        """Call ``callback(old, new)`` on a daemon thread whenever the map changes; returns the ``Watch``.

        Every ``interval`` seconds the thread calls ``refresh()`` (a 304 when
        nothing changed). ``old`` is the map before the change (``None`` when the
        client had never loaded one). Errors of a check are logged and the next
        check goes on; so are exceptions raised by ``callback``. ``Watch.stop()``
        ends the thread.
        """
        from secretvault_client.watch import Watch

        return Watch(self, callback, interval)

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
            self._confirmed_at = None

    def _serve_stale(self, exc: SecretVaultError) -> Secrets | None:
        if self.max_stale is None or self._cached is None or self._confirmed_at is None:
            return None
        now = time.monotonic()
        age = now - self._confirmed_at
        if age > self.max_stale:
            return None
        logger.warning(
            "secretvault: server unreachable or failing (%s); serving the last good map, %.0f s old "
            "(max_stale %g s)",
            exc,
            age,
            self.max_stale,
        )
        # Not asked again before the TTL, nor served past max_stale.
        self._fresh_until = min(now + self.cache_ttl, self._confirmed_at + self.max_stale)
        self.last_load_source = SOURCE_STALE
        return self._cached

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
            fallback.write(self.fallback_file, self._fallback_identity(), raw)
        return loaded

    def _remember(self, secrets: Secrets, *, etag: str | None, from_fallback: bool = False) -> None:
        self._cached = secrets
        self._cached_from_fallback = from_fallback
        self._etag = etag
        self._fresh_until = time.monotonic() + self.cache_ttl
        if not from_fallback:
            self._confirmed_at = time.monotonic()

    def _fallback_identity(self) -> dict[str, Any]:
        return {"url": self.url, "workspace": self._workspace, "env": self._env, "scope": self._scope}

    # -- writing -------------------------------------------------------------------------

    def set(
        self,
        key: str,
        value: str,
        *,
        env: str | None = None,
        envs: Iterable[str] | None = None,
        description: str | None = None,
        scope: Iterable[str] | None = None,
        token_type: str | None = None,
        expires_at: int | str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Write ``value`` as a new version of ``key``, creating the secret when there is none.

        Which secret: with ``envs``, the one whose environments are exactly
        ``envs`` — updated when it exists, created otherwise (``envs=["prd"]`` next
        to a global ``WORKERS`` creates prd's own ``WORKERS``; ``envs=[]`` is the
        global secret). Without ``envs``, ``env`` (default: the client's
        environment) picks the secret that serves that environment, as ``load()``
        would, and a new secret is created for that environment alone (global
        when there is no environment). ``scope``, ``token_type`` and
        ``expires_at`` apply when the secret is created; ``expected_version``
        makes the update a check-and-set (``ConflictError`` when another writer
        got there first, or when there is no such secret). The token needs
        ``can_write`` and must reach the environments.

        Returns the secret's metadata as the server reports it (no value), and
        clears the cache so that the next ``load()`` sees the new value.
        ``TypeError`` for a value that is not a ``str``; ``ValueError`` for both
        ``env`` and ``envs``.
        """
        if not isinstance(value, str):
            raise TypeError(f"The value of {key!r} must be a str, not {type(value).__name__}.")
        if env is not None and envs is not None:
            raise ValueError("Pass env= (the secret serving it) or envs= (exactly these), not both.")
        wanted: list[str] | None = None
        if envs is not None:
            if isinstance(envs, str) or not all(isinstance(slug, str) and slug for slug in envs):
                raise TypeError("envs must be a list of environment slugs, e.g. envs=['prd'].")
            wanted = sorted(set(envs))
        env = env if env is not None else self._env
        if wanted is not None:
            env = wanted[0] if wanted else None
        update: dict[str, Any] = {"value": value}
        if description is not None:
            update["description"] = description
        if expected_version is not None:
            update["expected_version"] = expected_version
        query = f"?{urlencode({'env': env})}" if env else ""
        workspace = self.resolve_workspace()
        secret_path = self._path("workspaces", workspace, "secrets", key) + query
        create: dict[str, Any] = {
            "key": key,
            "value": value,
            "envs": wanted if wanted is not None else ([env] if env else []),
        }
        for name, given in (
            ("description", description),
            ("token_type", token_type),
            ("expires_at", expires_at),
        ):
            if given is not None:
                create[name] = given
        if scope is not None:
            create["scope"] = list(scope)
        try:
            try:
                if wanted is not None and not self._exists_exactly(secret_path, wanted):
                    raise error_for_status(
                        404, "No secret with exactly these environments.", method="GET", path=secret_path
                    )
                response = self._request("PATCH", secret_path, payload=update)
            except HTTPError as exc:
                if exc.status != 404:
                    raise
                if expected_version is not None:
                    raise error_for_status(
                        409,
                        f"No secret {key!r} to check version {expected_version} against; "
                        "leave expected_version out to create it.",
                        method=exc.method,
                        path=exc.path,
                    ) from None
                response = self._request(
                    "POST", self._path("workspaces", workspace, "secrets"), payload=create
                )
        except PermissionDeniedError as exc:
            raise in_client_terms(exc) from None
        finally:
            # Even a failed write may have landed (a timeout after the server committed).
            self.clear_cache()
        return dict(response.body) if isinstance(response.body, Mapping) else {}

    def _exists_exactly(self, secret_path: str, envs: list[str]) -> bool:
        """Whether the secret that ``secret_path`` addresses has exactly ``envs`` as its environments."""
        try:
            response = self._request("GET", secret_path)
        except HTTPError as exc:
            # 404: no such key here; 400: several secrets of that key and none global (for envs=[]).
            if exc.status in (400, 404):
                return False
            raise
        found = response.body.get("envs") if isinstance(response.body, Mapping) else None
        return isinstance(found, list) and sorted(found) == envs

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
    ) -> Response:
        """One API call, retries included, within ``timeout``: a 2xx or 304 answer, else an error."""
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
        short = path.split("?")[0]
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise transport.DeadlineExceeded()
                response = transport.send(
                    self._endpoint,
                    method,
                    path,
                    all_headers,
                    body,
                    timeout=remaining,
                    max_bytes=self.max_response_bytes,
                )
            except transport.ConnectFailed as exc:
                error: SecretVaultError = TransportError(f"Cannot connect to {self.url}: {exc}")
                retry = True
            except transport.DeadlineExceeded:
                raise TransportError(
                    f"{method} {self.url} timed out: no complete answer within {self.timeout:g} s"
                ) from None
            except transport.TooLarge as exc:
                raise ResponseTooLargeError(method, short, exc.limit) from None
            except ssl.SSLCertVerificationError as exc:
                # Retrying does not change a certificate.
                raise TransportError(
                    f"TLS certificate of {self.url} not trusted: {exc.verify_message}"
                ) from None
            except (OSError, ValueError, http.client.HTTPException) as exc:
                error = TransportError(f"{method} {self.url} failed: {transport.describe(exc)}")
                retry = idempotent
            else:
                logger.debug("secretvault: %s %s -> %d", method, short, response.status)
                if response.body is transport.NOT_JSON and (response.status < 300 or response.status == 304):
                    raise ProtocolError(
                        f"{method} {short} answered {response.status} with a body that is not JSON; "
                        f"is {self.url} a secretvault API?"
                    )
                if response.status < 300 or response.status == 304:
                    return response
                error = self._error(method, path, response)
                retry = response.status >= 500 and (idempotent or response.status in _WRITE_RETRY_STATUSES)
            delay = self.backoff * (2**attempt)
            if not retry or attempt >= self.retries or time.monotonic() + delay >= deadline:
                raise error
            attempt += 1
            logger.warning(
                "secretvault: %s %s failed (%s); retry %d of %d in %.2f s",
                method,
                short,
                error,
                attempt,
                self.retries,
                delay,
            )
            time.sleep(delay)

    def _error(self, method: str, path: str, response: Response) -> HTTPError:
        detail = summarise_body(response.body)
        if detail is None:
            detail = http.client.responses.get(response.status, "Unexpected status")
            if 300 <= response.status < 400:
                # Not followed: the token must not travel to wherever it points.
                detail += f" (redirect not followed; point {ENV_URL} at the final address)"
            elif response.status == 404:
                # Not the API's own 404 (that one is JSON): most often a URL without its prefix.
                detail += f" (not the vault's API: does {ENV_URL} end with its prefix, e.g. /api/v1/?)"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return error_for_status(response.status, detail, method=method, path=path, retry_after=retry_after)


def parse_retry_after(header: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: finite, ``0 <= s <= MAX_RETRY_AFTER``; ``None`` if unusable.

    Accepts delta-seconds and an HTTP date (RFC 9110 §10.2.3). Anything else —
    ``inf``, ``nan``, a negative number, text — is ``None``; a longer wait is cut
    to ``MAX_RETRY_AFTER`` so that a hostile server cannot park a caller.
    """
    if header is None:
        return None
    text = header.strip()
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds is None or not math.isfinite(seconds):
        return None
    if seconds < 0:
        # A date in the past means "now"; a negative delta is nonsense.
        return 0.0 if not _is_number(text) else None
    return min(seconds, MAX_RETRY_AFTER)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_TOKEN_SHAPE = re.compile(r"([A-Za-z0-9]+)_([0-9a-f]{16})_([0-9A-Za-z]*)")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_LENGTH = 43  # base62 characters of the secret part
_CHECKSUM_LENGTH = 6  # base62 characters of the CRC32 that ends a token


def token_checksum_ok(token: str) -> bool:
    """False for a token shaped like a secretvault token whose checksum does not match.

    A token is ``<prefix>_<16 hex id>_<43 base62 secret><6 base62 CRC32 of the
    rest>`` (SPEC §1). A mistyped or truncated one is caught here, before it is
    sent. A token of another shape is left for the server to judge.
    """
    match = _TOKEN_SHAPE.fullmatch(token)
    if match is None:
        return True
    tail = match.group(3)
    if len(tail) != _SECRET_LENGTH + _CHECKSUM_LENGTH:
        return False
    body, checksum = token[:-_CHECKSUM_LENGTH], tail[-_CHECKSUM_LENGTH:]
    number = zlib.crc32(body.encode("ascii"))
    expected = ""
    for _ in range(_CHECKSUM_LENGTH):
        number, digit = divmod(number, 62)
        expected = _BASE62[digit] + expected
    return checksum == expected


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``, RFC 6761) and loopback addresses (127/8, ::1)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _freeze(raw: Mapping[str, str]) -> Secrets:
    return MappingProxyType({key: SecretValue(key, value) for key, value in raw.items()})
