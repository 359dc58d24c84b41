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
