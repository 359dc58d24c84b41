"""System checks and the settings object."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from secretvault import checks, crypto
from secretvault.conf import DEFAULTS, vault_settings
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_valid_keyring_passes():
    assert checks.check_master_keys() == []


@pytest.mark.parametrize("keys", [[], "", ["nonsense"], ["k:short"]])
def test_missing_or_malformed_keyring_fails(keys):
    with override_settings(SECRETVAULT={"MASTER_KEYS": keys}):
        messages = checks.check_master_keys()
    assert ids(messages) == ["secretvault.E001"]
    assert "generate-key" in messages[0].hint


def test_manage_py_check_fails_clearly_without_a_key():
    with override_settings(SECRETVAULT={}):
        with pytest.raises(SystemCheckError, match="No master key configured"):
            call_command("check")


def test_unknown_setting_is_reported():
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY], "MAX_VALUE_BYTE": 1}):
        with pytest.raises(ImproperlyConfigured, match="MAX_VALUE_BYTE"):
            _ = vault_settings.MAX_VALUE_BYTES
        assert ids(checks.check_master_keys()) == ["secretvault.E002"]


def test_settings_defaults_and_reload():
    assert vault_settings.MAX_VALUE_BYTES == DEFAULTS["MAX_VALUE_BYTES"] == 65_536
    assert vault_settings.EXPIRING_SOON_SECONDS == 7 * 86400
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY], "MAX_VALUE_BYTES": 5}):
        assert vault_settings.MAX_VALUE_BYTES == 5
    assert vault_settings.MAX_VALUE_BYTES == 65_536
    with pytest.raises(AttributeError):
        _ = vault_settings.NOT_A_SETTING


@pytest.mark.django_db
def test_database_check_reports_a_wrong_master_key(workspace):
    assert checks.check_master_keys_unwrap(databases=["default"]) == []
    assert checks.check_master_keys_unwrap(databases=None) == []
    impostor = "test-1:" + TEST_MASTER_KEY_2.split(":")[1]
    with override_settings(SECRETVAULT={"MASTER_KEYS": [impostor]}):
        messages = checks.check_master_keys_unwrap(databases=["default"])
    assert ids(messages) == ["secretvault.E003"] and "acme" in messages[0].msg
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2]}):
        messages = checks.check_master_keys_unwrap(databases=["default"])
    assert ids(messages) == ["secretvault.E003"] and "'test-1'" in messages[0].msg
    crypto.reset_caches()


def test_debug_without_the_reporter_filter_is_warned():
    assert checks.check_exception_reporter() == []  # tests/settings.py sets it
    default = "django.views.debug.SafeExceptionReporterFilter"
    with override_settings(DEBUG=True, DEFAULT_EXCEPTION_REPORTER_FILTER=default):
        assert ids(checks.check_exception_reporter()) == ["secretvault.W002"]
    with override_settings(DEBUG=False, DEFAULT_EXCEPTION_REPORTER_FILTER=default):
        assert checks.check_exception_reporter() == []


def test_sqlite_older_than_3_35_is_an_error():
    """E004: the audit chain needs UPDATE … RETURNING (SQLite 3.35); Django 5.2 accepts 3.31."""
    assert checks.check_sqlite_version() == []  # this machine's library is recent
    sqlite = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
    messages = checks.sqlite_version_errors(sqlite, (3, 31, 1), "3.31.1")
    assert ids(messages) == ["secretvault.E004"] and "3.31.1" in messages[0].msg
    assert checks.sqlite_version_errors(sqlite, (3, 35, 0), "3.35.0") == []
    postgres = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}}
    assert checks.sqlite_version_errors(postgres, (3, 31, 1), "3.31.1") == []
