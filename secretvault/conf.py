"""The ``SECRETVAULT`` settings dict, read through one object with defaults.

Values are read lazily on attribute access and the cache is dropped when the
setting changes (``override_settings`` in tests), so nothing is frozen at
import time.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

SETTING_NAME = "SECRETVAULT"

DEFAULTS: dict[str, Any] = {
    # Keyring of master keys, each "<key_id>:<base64url key>" as
    # ``manage.py secretvault generate-key`` prints it. A list, or one
    # comma-separated string. The first key wraps new data keys; the others
    # only unwrap.
    "MASTER_KEYS": [],
    # Largest value accepted, in bytes of UTF-8.
    "MAX_VALUE_BYTES": 65_536,
    # A secret expiring within this many seconds is "expiring soon".
    "EXPIRING_SOON_SECONDS": 7 * 24 * 3600,
    # Versions kept per secret (None keeps them all). Older ones are pruned
    # after each write.
    "MAX_VERSIONS": None,
    # First part of every raw service token: "<prefix>_<token_id>_<secret>".
    "TOKEN_PREFIX": "svt",
    # Record an audit event for every read of a value (reveal and load).
    "AUDIT_READS": True,
    # How long an unwrapped data key may stay in process memory, in seconds.
    "DATA_KEY_CACHE_SECONDS": 300,
    # ``last_used_at`` of a token is written at most this often, in seconds.
    "TOKEN_LAST_USED_RESOLUTION": 60,
    # Accept HTTP Basic (username and password on every request) on the API. Off by
    # default: people use the session, services use tokens. Failed passwords are
    # throttled and audited either way (docs/security.md).
    "API_BASIC_AUTH": False,
    # Where the client's address comes from. None: REMOTE_ADDR (the peer; behind a
    # proxy, the proxy). A header name such as "X-Forwarded-For": the address the
    # outermost trusted proxy saw, TRUSTED_PROXY_COUNT entries from the right.
    "CLIENT_ADDRESS_HEADER": None,
    # How many proxies of yours append to CLIENT_ADDRESS_HEADER (1: one proxy).
    "TRUSTED_PROXY_COUNT": 1,
}

# Schema-bound constants: changing these needs a migration, so they are not
# settings.
CONSTANTS = MappingProxyType(
    {
        "TOKEN_ID_LENGTH": 16,  # hex characters of the public token id
        "TOKEN_SECRET_LENGTH": 43,  # base62 characters, >= 256 bits
        "TOKEN_CHECKSUM_LENGTH": 6,  # base62 characters of a CRC32
        "TOKEN_DIGEST_LENGTH": 64,  # hex characters of SHA-256
        "KEY_ID_MAX_LENGTH": 32,  # master and data key ids
    }
)


class VaultSettings:
    """Attribute access to ``settings.SECRETVAULT`` merged over ``DEFAULTS``."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self._defaults = defaults
        self._cached: dict[str, Any] | None = None

    def _user_settings(self) -> dict[str, Any]:
        if self._cached is None:
            user = getattr(django_settings, SETTING_NAME, None) or {}
            unknown = set(user) - set(self._defaults)
            if unknown:
                from django.core.exceptions import ImproperlyConfigured

                raise ImproperlyConfigured(f"Unknown {SETTING_NAME} setting(s): {', '.join(sorted(unknown))}")
            self._cached = dict(user)
        return self._cached

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(name)
        return self._user_settings().get(name, self._defaults[name])

    def reload(self) -> None:
        """Forget the cached ``settings.SECRETVAULT``; the next read sees the current one.

        Only this object's own cache: state derived from the settings elsewhere
        (crypto's keyring and unwrapped keys, audit's chain heads) is reset by
        its owner's own ``setting_changed`` receiver (STYLE rule 15).
        """
        self._cached = None


vault_settings = VaultSettings(DEFAULTS)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        vault_settings.reload()


setting_changed.connect(_on_setting_changed, dispatch_uid="secretvault.conf.reload")
