"""Authentication: service tokens (Bearer), sessions and Basic; failures audited and throttled."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from secretvault import crypto
from secretvault.api.authentication import ServiceTokenAuthentication
from secretvault.api.throttling import AuthFailureThrottle
from secretvault.models import AuditEvent, ServiceToken
from tests.api.conftest import basic, ws_url

pytestmark = pytest.mark.django_db

SECRETS = ws_url("acme", "secrets")


def forge(token_id: str) -> str:
    """A well-formed token (valid checksum) for ``token_id`` with another secret."""
    secret = crypto.generate_token("svt").raw.split("_")[2][:43]
    body = f"svt_{token_id}_{secret}"
    return body + crypto._checksum(body)


def assert_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == 'Bearer realm="secretvault"'
    assert "detail" in response.json()


def test_valid_token_authenticates(workspace, make_token, bearer, make_secret):
    make_secret("API_KEY", "bearer-value")
    _token, raw = make_token()
    response = bearer(raw).get(SECRETS)
    assert response.status_code == 200 and response.json()["count"] == 1


def test_missing_credentials_are_401_with_challenge(workspace, anon):
    assert_401(anon.get(SECRETS))
    assert_401(anon.get(ws_url("acme", "load")))
    assert_401(anon.get("/api/v1/workspaces/"))
    assert_401(anon.post(SECRETS, {"key": "A", "value": "x"}))


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer \xe9t\xe9"])
def test_malformed_headers_are_401(workspace, header):
    client = APIClient()
    response = client.get(SECRETS, HTTP_AUTHORIZATION=header)
    assert_401(response)
    assert response.json()["detail"] == "Malformed authorization header: use 'Bearer <token>'."
    event = AuditEvent.objects.get(action="auth.failed")
    assert event.workspace_id is None and event.detail["reason"] == "malformed"
    assert "token_id" not in event.detail


def _mistype(raw: str, index: int) -> str:
    char = raw[index]
    return raw[:index] + ("B" if char != "B" else "C") + raw[index + 1 :]


def test_a_token_failing_its_checksum_says_so(workspace, make_token, bearer):
    """Issue #11.8: a mistyped or truncated token is not called a malformed header."""
    _token, raw = make_token()
    attempts = [
        _mistype(raw, len(raw) - 10),  # one character of the secret
        _mistype(raw, len(raw) - 1),  # one character of the checksum
        raw[:-1],  # truncated
        raw + "x",  # one character too many
        "not-a-token",
        "svt_0123456789abcdef_short",
    ]
    for attempt in attempts:
        response = APIClient().get(SECRETS, HTTP_AUTHORIZATION=f"Bearer {attempt}")
        assert_401(response)
        assert response.json()["detail"] == "Not a valid service token: mistyped or truncated?"
    events = AuditEvent.objects.filter(action="auth.failed")
    assert events.count() == len(attempts)
    assert {event.detail["reason"] for event in events} == {"not_a_token"}
    assert all("token_id" not in event.detail for event in events)
    # Lower-case scheme, same token: still our scheme, still "not a token".
    response = APIClient().get(SECRETS, HTTP_AUTHORIZATION="bearer svt_zz")
    assert response.json()["detail"] == "Not a valid service token: mistyped or truncated?"


def test_unknown_expired_revoked_and_wrong_secret_are_401(workspace, make_token, bearer):
    unknown = crypto.generate_token("svt").raw
    expired, expired_raw = make_token(expires_at=timezone.now() + dt.timedelta(seconds=60))
    ServiceToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    revoked, revoked_raw = make_token()
    revoked.revoke()
    good, _good_raw = make_token()
    wrong = forge(good.token_id)
    for raw in (unknown, expired_raw, revoked_raw, wrong):
        assert_401(bearer(raw).get(SECRETS))
    events = AuditEvent.objects.filter(action="auth.failed")
    assert events.count() == 4
    token_ids = {event.detail.get("token_id") for event in events}
    assert token_ids == {
        crypto.parse_token(unknown, "svt")[0],
        expired.token_id,
        revoked.token_id,
        good.token_id,
    }
    for event in events:
        assert event.workspace_id is None and event.detail["reason"] == "invalid"
        assert event.remote_addr == "127.0.0.1"
        for raw in (unknown, expired_raw, revoked_raw, wrong):
            assert raw not in str(event.detail) and raw.split("_")[2] not in str(event.detail)


def test_other_schemes_fall_through(workspace, superuser):
    client = APIClient()
    assert client.get(SECRETS, HTTP_AUTHORIZATION="Token abc").status_code == 401
    assert client.get(SECRETS, HTTP_AUTHORIZATION=basic("root")).status_code == 200
    assert client.get(SECRETS, HTTP_AUTHORIZATION=basic("root", "wrong")).status_code == 401
    # Other schemes are no token failure; the wrong password is a password failure.
    [event] = AuditEvent.objects.filter(action="auth.failed")
    assert event.detail == {"reason": "password", "username": "root"}


def test_session_authentication(workspace, superuser):
    client = APIClient()
    client.force_login(superuser)
    assert client.get(SECRETS).status_code == 200


def test_session_writes_need_csrf(workspace, superuser):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post(SECRETS, {"key": "A", "value": "x"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_last_used_at_is_written_at_most_once_a_minute(workspace, make_token, bearer):
    token, raw = make_token()
    client = bearer(raw)
    assert client.get(SECRETS).status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(SECRETS)
    token.refresh_from_db()
    assert token.last_used_at == first
    earlier = first - dt.timedelta(seconds=61)
    ServiceToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    client.get(SECRETS)
    token.refresh_from_db()
    assert token.last_used_at > earlier + dt.timedelta(seconds=60)


def test_failed_attempts_are_throttled_per_address(workspace, make_token, bearer, fresh_throttle_window):
    _token, raw = make_token()
    bad = crypto.generate_token("svt").raw
    limit, _ = AuthFailureThrottle().parse_rate()
    assert limit == 20
    for _ in range(limit):
        assert bearer(bad).get(SECRETS).status_code == 401
    # Over the limit: failures are 429, and no longer audited one by one.
    response = bearer(bad).get(SECRETS)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert bearer("garbage").get(SECRETS).status_code == 429
    assert AuditEvent.objects.filter(action="auth.failed").count() == limit
    # A valid token from the same address is not refused by a lockout it did not cause.
    assert bearer(raw).get(SECRETS).status_code == 200
    # Another address is not affected either.
    other = APIClient(REMOTE_ADDR="10.0.0.9")
    assert other.get(SECRETS, HTTP_AUTHORIZATION=f"Bearer {bad}").status_code == 401


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"secretvault_auth_failures": "2/min"}})
def test_limit_comes_from_drf_throttle_rates(workspace, bearer, fresh_throttle_window):
    bad = crypto.generate_token("svt").raw
    assert [bearer(bad).get(SECRETS).status_code for _ in range(3)] == [401, 401, 429]


def test_fixed_window_resets(workspace, bearer, monkeypatch):
    clock = {"now": 1_000_040.0}  # 20 s into a 60 s window
    monkeypatch.setattr(
        AuthFailureThrottle, "__init__", lambda self, timer=None: setattr(self, "timer", lambda: clock["now"])
    )
    bad = crypto.generate_token("svt").raw
    for _ in range(20):
        bearer(bad).get(SECRETS)
    response = bearer(bad).get(SECRETS)
    assert response.status_code == 429 and response["Retry-After"] == "40"
    clock["now"] += 40
    assert bearer(bad).get(SECRETS).status_code == 401


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL")
def test_failure_count_is_shared_through_redis(workspace, bearer, fresh_throttle_window):
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"sv-test-{os.getpid()}",
        }
    }
    bad = crypto.generate_token("svt").raw
    with override_settings(CACHES=redis_cache):
        from django.core.cache import caches

        caches["default"].clear()
        throttle = AuthFailureThrottle()
        window, _, _ = throttle._window()
        key = throttle.cache_key("addr:127.0.0.1", window)
        # Another worker process counted 19 failures of this address in this window.
        caches["default"].set(key, 19, timeout=61)
        assert bearer(bad).get(SECRETS).status_code == 401
        assert caches["default"].get(key) == 20
        assert bearer(bad).get(SECRETS).status_code == 429
        caches["default"].clear()


def test_keyword_hook(workspace, make_token, rf):
    class TokenKeyword(ServiceTokenAuthentication):
        keyword = "Token"

    token, raw = make_token()
    request = rf.get("/", HTTP_AUTHORIZATION=f"Token {raw}")
    user, auth = TokenKeyword().authenticate(request)
    assert auth == token and user.is_authenticated and not user.has_perm("secretvault.view_secret")
    assert TokenKeyword().authenticate(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {raw}")) is None
    assert TokenKeyword().authenticate_header(request) == 'Token realm="secretvault"'
