"""``Env``: django-environ's casting API over the vault's map, so ``settings.py`` can read secrets.

    # settings.py
    from secretvault_client.environ import Env

    env = Env()                                   # SECRETVAULT_URL, _TOKEN, _ENV ... as for the client
    DEBUG = env.bool("DEBUG", default=False)
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

Needs django-environ (``pip install "secretvault-client[environ]"``). Every
method of ``environ.Env`` works (``str``, ``bool``, ``int``, ``float``, ``list``,
``tuple``, ``dict``, ``json``, ``url``, ``db_url``, ``cache_url``,
``email_url``, ``search_url``, ``path``, ``env("NAME")`` …) with the same
defaults and errors (``ImproperlyConfigured`` for a missing variable without a
default). A variable set in ``os.environ`` wins over the vault's secret of the
same name, as with ``run``. A vault value is taken literally: django-environ
reads a value starting with ``$`` as a reference to another variable, which a
secret's value never is (SPEC §8: values come back byte for byte).

The map is loaded on the first lookup (not when ``Env()`` is created) through
a ``SecretVaultClient`` configured by the keyword arguments below or the
``SECRETVAULT_*`` variables; it is cached for the client's ``cache_ttl``, so a
settings module costs one request. Errors are the client's
(``secretvault_client.SecretVaultError``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

try:
    import environ as _environ
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "secretvault_client.environ needs django-environ: pip install 'secretvault-client[environ]'"
    ) from exc

from secretvault_client.core import SecretVaultClient

#: Keyword arguments of ``Env()`` that configure the client; the others are django-environ's scheme.
CLIENT_OPTIONS = frozenset(
    {
        "url",
        "token",
        "workspace",
        "env",
        "scope",
        "cache_ttl",
        "timeout",
        "retries",
        "backoff",
        "fallback_file",
        "fallback_max_age",
        "max_stale",
        "max_response_bytes",
        "allow_http",
        "ssl_context",
    }
)


class _Literal(str):
    """A vault value on its way through ``environ.Env.get_value``: never read as a ``$REFERENCE``."""

    def startswith(self, prefix: Any, *args: Any) -> bool:
        if prefix == "$" and not args:
            return False
        return str.startswith(self, prefix, *args)


class VaultEnviron(Mapping[str, str]):
    """``os.environ`` over the vault's map: a name set in ``os.environ`` wins. Loaded on first use."""

    def __init__(self, load: Callable[[], Mapping[str, str]]) -> None:
        self._load = load

    def __getitem__(self, name: str) -> str:
        if name in os.environ:
            return os.environ[name]
        return _Literal(self._load()[name])

    def __contains__(self, name: object) -> bool:
        return name in os.environ or name in self._load()

    def __iter__(self) -> Iterator[str]:
        yield from os.environ
        yield from (name for name in self._load() if name not in os.environ)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Env(_environ.Env):
    """``environ.Env`` reading the vault's map (``os.environ`` winning); see the module docstring.

    ``Env(url=…, token=…, workspace=…, env=…, scope=…, cache_ttl=…, …)`` takes the
    client's keyword arguments (``CLIENT_OPTIONS``), or ``client=`` an existing
    ``SecretVaultClient``; any other keyword argument is django-environ's scheme
    (``Env(DEBUG=(bool, False))``).
    """

    def __init__(self, *, client: SecretVaultClient | None = None, **options: Any) -> None:
        configuration = {name: options.pop(name) for name in list(options) if name in CLIENT_OPTIONS}
        if client is not None and configuration:
            raise TypeError(f"Pass client= or client options ({', '.join(sorted(configuration))}), not both.")
        super().__init__(**options)
        self._client = client
        self._configuration = configuration
        self.ENVIRON = VaultEnviron(self._secrets)

    @property
    def client(self) -> SecretVaultClient:
        """The client, created on first use from the keyword arguments and ``SECRETVAULT_*``."""
        if self._client is None:
            self._client = SecretVaultClient(**self._configuration)
        return self._client

    def _secrets(self) -> Mapping[str, str]:
        return self.client.load()

    def get_value(
        self, var: str, cast: Any = None, default: Any = _environ.Env.NOTSET, parse_default: bool = False
    ) -> Any:
        value = super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        # Hand back plain strings, not the marker type (its startswith() is special).
        return str.__str__(value) if isinstance(value, _Literal) else value
