"""Deployment checks for the authentication hazards of issue #10 (``manage.py check --deploy``)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from secretvault import checks

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}}
THROTTLED = ["secretvault.logins.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def vault(**extra):
    return override_settings(SECRETVAULT={**settings.SECRETVAULT, **extra})


@pytest.mark.parametrize(
    ("caches", "expected"),
    [(LOCMEM, ["secretvault.W010"]), (DUMMY, ["secretvault.W011"]), (REDIS, [])],
)
def test_per_process_or_no_cache_for_the_failure_counters(caches, expected):
    with override_settings(CACHES=caches):
        assert ids(checks.check_failure_counters_cache()) == expected


def test_basic_enabled_is_reported():
    with vault(API_BASIC_AUTH=True), override_settings(AUTHENTICATION_BACKENDS=THROTTLED):
        assert ids(checks.check_password_doors()) == ["secretvault.W012"]
    with vault(API_BASIC_AUTH=False), override_settings(AUTHENTICATION_BACKENDS=THROTTLED):
        assert checks.check_password_doors() == []


@pytest.mark.parametrize(
    "backends",
    [["django.contrib.auth.backends.ModelBackend"], list(reversed(THROTTLED)), []],
)
def test_login_throttle_backend_must_come_first(backends):
    with vault(API_BASIC_AUTH=False), override_settings(AUTHENTICATION_BACKENDS=backends):
        assert ids(checks.check_password_doors()) == ["secretvault.W013"]


def test_drfs_own_basic_in_the_project_defaults_is_reported():
    drf = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]}
    with (
        vault(API_BASIC_AUTH=False),
        override_settings(AUTHENTICATION_BACKENDS=THROTTLED, REST_FRAMEWORK=drf),
    ):
        assert ids(checks.check_password_doors()) == ["secretvault.W015"]


@pytest.mark.parametrize(
    "proxy_settings",
    [{"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}, {"USE_X_FORWARDED_HOST": True}],
)
def test_behind_a_proxy_without_an_address_header(proxy_settings):
    with override_settings(**proxy_settings):
        assert ids(checks.check_proxy_address()) == ["secretvault.W014"]
        with vault(CLIENT_ADDRESS_HEADER="X-Forwarded-For"):
            assert checks.check_proxy_address() == []
    assert checks.check_proxy_address() == []


@pytest.mark.parametrize(
    ("header", "count", "expected"),
    [
        (None, 1, []),
        ("X-Forwarded-For", 1, []),
        ("X-Forwarded-For", 2, []),
        ("X-Forwarded-For", 0, ["secretvault.E011"]),
        ("X-Forwarded-For", "1", ["secretvault.E011"]),
        ("X-Forwarded-For", True, ["secretvault.E011"]),
        ("", 1, ["secretvault.E010"]),
        ("REMOTE_ADDR", 1, ["secretvault.E010"]),
        (["X-Forwarded-For"], 1, ["secretvault.E010"]),
    ],
)
def test_client_address_configuration(header, count, expected):
    with vault(CLIENT_ADDRESS_HEADER=header, TRUSTED_PROXY_COUNT=count):
        assert ids(checks.check_client_address()) == expected


def test_deploy_checks_run_under_check_deploy_only():
    with override_settings(CACHES=LOCMEM), vault(API_BASIC_AUTH=True):
        call_command("check")  # no deploy warning without --deploy
        with pytest.raises(SystemCheckError) as raised:
            call_command("check", "--deploy", "--fail-level", "WARNING")
    text = str(raised.value)
    assert "secretvault.W010" in text and "secretvault.W012" in text


def test_bad_proxy_count_fails_plain_check():
    with vault(CLIENT_ADDRESS_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=0):
        with pytest.raises(SystemCheckError, match="secretvault.E011"):
            call_command("check")
