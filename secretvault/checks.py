"""System checks: the master keyring must be present and well-formed."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from secretvault import crypto
from secretvault.conf import vault_settings
from secretvault.errors import CryptoError, MasterKeyError


@register(Tags.security)
def check_master_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        keyring = crypto.parse_keyring(vault_settings.MASTER_KEYS)
    except MasterKeyError as exc:
        return [
            Error(
                str(exc),
                hint="Generate a key with 'python manage.py secretvault generate-key' and put it "
                "first in SECRETVAULT['MASTER_KEYS'] (SECRETVAULT_MASTER_KEYS in the example project).",
                id="secretvault.E001",
            )
        ]
    except Exception as exc:  # an unknown SECRETVAULT setting, for one
        return [Error(str(exc), id="secretvault.E002")]
    messages: list[CheckMessage] = []
    if len({key.key for key in keyring.keys}) != len(keyring.keys):
        messages.append(
            Warning(
                "The same master key appears under two ids in SECRETVAULT['MASTER_KEYS'].",
                id="secretvault.W001",
            )
        )
    return messages


@register(Tags.database)
def check_master_keys_unwrap(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """With ``--database``: every master key that wrapped a data key is present and right.

    Unwraps one data key per master key id in use, so a wrong key (right id,
    wrong bytes) is reported before the first request needs it.
    """
    if not databases:
        return []
    from django.db import DatabaseError

    from secretvault.models import Workspace

    try:
        keyring = crypto.parse_keyring(vault_settings.MASTER_KEYS)
    except Exception:
        return []  # reported by check_master_keys
    messages: list[CheckMessage] = []
    for database in databases:
        try:
            key_ids = sorted(set(Workspace.objects.using(database).values_list("master_key_id", flat=True)))
            for key_id in key_ids:
                sample = Workspace.objects.using(database).filter(master_key_id=key_id).first()
                if sample is None:
                    continue
                try:
                    keyring.get(key_id)
                    crypto.unwrap_data_key(sample.id, sample.data_key_id, bytes(sample.wrapped_data_key))
                except CryptoError as exc:
                    messages.append(
                        Error(
                            f"Workspace {sample.slug!r}: {exc}",
                            hint="Put the master key that wrapped it back into the keyring.",
                            id="secretvault.E003",
                        )
                    )
        except DatabaseError:
            continue  # not migrated yet
    return messages


@register(Tags.security)
def check_exception_reporter(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG on, Django's technical 500 page shows every local variable unless told otherwise."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from secretvault.debug import ExceptionReporterFilter

    if not settings.DEBUG:
        return []  # Django's default filter then hides what secretvault marks sensitive
    try:
        configured = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)
    except ImportError:
        return []  # Django reports that itself
    if isinstance(configured, type) and issubclass(configured, ExceptionReporterFilter):
        return []
    return [
        Warning(
            "DEBUG is on and Django's technical 500 page would show secret values held in local variables.",
            hint='Set DEFAULT_EXCEPTION_REPORTER_FILTER = "secretvault.debug.ExceptionReporterFilter".',
            id="secretvault.W002",
        )
    ]


# ----------------------------------------------------------------------------------
# Authentication hazards (issue #10: lockouts, password guessing, proxies)

_PER_PROCESS_CACHES = {"django.core.cache.backends.locmem.LocMemCache"}
_NO_CACHES = {"django.core.cache.backends.dummy.DummyCache"}
_LOGIN_THROTTLE_BACKEND = "secretvault.logins.LoginThrottleBackend"


@register(Tags.security)
def check_client_address(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``CLIENT_ADDRESS_HEADER`` needs a whole number of trusted proxies, at least one."""
    try:
        header = vault_settings.CLIENT_ADDRESS_HEADER
        count = vault_settings.TRUSTED_PROXY_COUNT
    except Exception:
        return []  # reported by check_master_keys (E002)
    if header is None:
        return []
    if not isinstance(header, str) or not header.strip() or header.upper() in {"REMOTE_ADDR", "HTTP_"}:
        return [
            Error(
                f"SECRETVAULT['CLIENT_ADDRESS_HEADER'] = {header!r} is not a request header name.",
                hint="Name the header your proxy sets, e.g. 'X-Forwarded-For', or None for REMOTE_ADDR.",
                id="secretvault.E010",
            )
        ]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return [
            Error(
                f"SECRETVAULT['TRUSTED_PROXY_COUNT'] = {count!r}: it must be a whole number of at least 1.",
                hint="Count the proxies of yours that append to the header (1 for one reverse proxy).",
                id="secretvault.E011",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_failure_counters_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The failure counters live in the ``default`` cache: shared between workers, or not at all."""
    from django.conf import settings

    from secretvault.api.throttling import FailureCounter

    backend = settings.CACHES.get(FailureCounter.cache_alias, {}).get("BACKEND", "")
    if backend in _NO_CACHES:
        return [
            Warning(
                "The cache is DummyCache: failed token and password attempts are never counted, "
                "so nothing is throttled or locked.",
                hint="Use Redis (django.core.cache.backends.redis.RedisCache) or Memcached.",
                id="secretvault.W011",
            )
        ]
    if backend in _PER_PROCESS_CACHES:
        return [
            Warning(
                "The cache is LocMemCache: each worker process counts failed token and password "
                "attempts on its own, so with N workers an attacker gets N times every limit.",
                hint="With more than one worker process, use a shared cache (Redis or Memcached).",
                id="secretvault.W010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_password_doors(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """HTTP Basic on, the login throttle backend missing, DRF's own Basic in the project defaults."""
    from django.conf import settings

    messages: list[CheckMessage] = []
    try:
        basic = vault_settings.API_BASIC_AUTH
    except Exception:
        return []  # reported by check_master_keys (E002)
    if basic:
        messages.append(
            Warning(
                "SECRETVAULT['API_BASIC_AUTH'] is on: the API accepts a person's password with "
                "every request (throttled per username and address, but exposed to every client "
                "and log that sees the header).",
                hint="Prefer service tokens for scripts and the session for people; turn it off.",
                id="secretvault.W012",
            )
        )
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    if not backends or backends[0] != _LOGIN_THROTTLE_BACKEND:
        messages.append(
            Warning(
                "The admin login is not locked after repeated wrong passwords: "
                f"{_LOGIN_THROTTLE_BACKEND!r} is not first in AUTHENTICATION_BACKENDS.",
                hint=f"AUTHENTICATION_BACKENDS = [{_LOGIN_THROTTLE_BACKEND!r}, "
                "'django.contrib.auth.backends.ModelBackend'] (failures are audited either way).",
                id="secretvault.W013",
            )
        )
    drf = getattr(settings, "REST_FRAMEWORK", {}) or {}
    if "rest_framework.authentication.BasicAuthentication" in drf.get("DEFAULT_AUTHENTICATION_CLASSES", []):
        messages.append(
            Warning(
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] holds DRF's BasicAuthentication: "
                "other DRF views (the schema view among them) accept passwords whatever "
                "SECRETVAULT['API_BASIC_AUTH'] says.",
                hint="Use 'secretvault.api.authentication.VaultBasicAuthentication', or drop Basic.",
                id="secretvault.W015",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_proxy_address(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Behind a proxy (Django is told so) but the client address is still REMOTE_ADDR."""
    from django.conf import settings

    try:
        header = vault_settings.CLIENT_ADDRESS_HEADER
    except Exception:
        return []
    behind_proxy = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None)) or bool(
        getattr(settings, "USE_X_FORWARDED_HOST", False)
    )
    if header is None and behind_proxy:
        return [
            Warning(
                "The project runs behind a proxy (SECURE_PROXY_SSL_HEADER or USE_X_FORWARDED_HOST), "
                "but secretvault takes the client address from REMOTE_ADDR: every client then shares "
                "the proxy's address in failure counts, password lockouts and the audit trail.",
                hint="Have the proxy set REMOTE_ADDR, or set SECRETVAULT['CLIENT_ADDRESS_HEADER'] "
                "(e.g. 'X-Forwarded-For') and TRUSTED_PROXY_COUNT; see docs/security.md.",
                id="secretvault.W014",
            )
        ]
    return []


BACKEND = "secretvault.backends.WorkspacePermissionBackend"


@register(Tags.security)
def check_permission_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Without the backend, memberships give no object permission in the admin (SPEC §9)."""
    from django.conf import settings

    backends = getattr(settings, "AUTHENTICATION_BACKENDS", [])
    if BACKEND in backends:
        return []
    return [
        Warning(
            f"{BACKEND} is not in AUTHENTICATION_BACKENDS: workspace memberships grant nothing "
            "in the admin, and only global model permissions apply there.",
            hint=f'Add "{BACKEND}" after "django.contrib.auth.backends.ModelBackend".',
            id="secretvault.W020",
        )
    ]


#: ``UPDATE … RETURNING``, with which the audit chain takes its slot (``secretvault.audit``).
MIN_SQLITE = (3, 35, 0)


@register(Tags.compatibility)
def check_sqlite_version(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004: a SQLite database needs SQLite 3.35 or later, where Django 5.2 accepts 3.31.

    The audit chain appends with ``UPDATE … RETURNING``; on an older library the first
    audited write would fail with a database error instead of this message.
    """
    import sqlite3

    from django.conf import settings

    return sqlite_version_errors(settings.DATABASES, sqlite3.sqlite_version_info, sqlite3.sqlite_version)


def sqlite_version_errors(
    databases: dict[str, Any], version_info: tuple[int, ...], version: str
) -> list[CheckMessage]:
    """E004 for each SQLite database of ``databases`` when the library ``version`` is too old."""
    if version_info >= MIN_SQLITE:
        return []
    return [
        Error(
            f"Database {alias!r} uses SQLite {version}; secretvault needs "
            f"{'.'.join(map(str, MIN_SQLITE))} or later (its audit chain appends with UPDATE … RETURNING).",
            hint="Use a Python built against a newer SQLite, or PostgreSQL.",
            id="secretvault.E004",
        )
        for alias, config in databases.items()
        if config.get("ENGINE") == "django.db.backends.sqlite3"
    ]
