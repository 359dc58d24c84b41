"""Lockouts (issue #10.4, #10.5): failures are throttled without refusing anyone else's credential.

- Service tokens: the failure counters are read and written on failures only; a valid
  token is never refused by failures it did not cause.
- Passwords (API Basic where enabled, the admin login): counted per username and
  address, audited without the password, and refused (the right password too) until
  the window ends.
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from secretvault import crypto
from secretvault.api import throttling
from secretvault.api.throttling import AuthFailureThrottle, FailureCounter, PasswordFailureThrottle
from secretvault.models import AuditEvent
from tests.api.conftest import basic, ws_url
from tests.api.test_auth import forge

pytestmark = pytest.mark.django_db

SECRETS = ws_url("acme", "secrets")


@pytest.fixture
def clock(monkeypatch):
    """The throttles' wall clock, 20 s into a window of a minute (and of an hour)."""
    now = {"t": 3600.0 * 1000 + 20}
    monkeypatch.setattr(throttling, "wall_clock", lambda: now["t"])
    return now


def _bearer(raw: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_valid_token_after_many_bad_ones_from_its_address_is_200(workspace, make_token, clock):
    """Finding #10.4: 20+ bad tokens from one address, then a valid token from it: 200."""
    good, raw = make_token()
    attempts = [crypto.generate_token("svt").raw, forge(good.token_id), "garbage", "svt_zz"] * 6
    statuses = [_bearer(attempt).get(SECRETS).status_code for attempt in attempts]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert _bearer(raw).get(SECRETS).status_code == 200
    # Its own wrong-secret twin is still refused.
    assert _bearer(forge(good.token_id)).get(SECRETS).status_code == 429


def test_success_reads_no_failure_counter(workspace, make_token, monkeypatch):
    """Issue #14.1: the success path of a token costs no cache round trip."""
    _token, raw = make_token()

    def no_cache(self):
        raise AssertionError("the failure counters were consulted on success")

    monkeypatch.setattr(FailureCounter, "cache", property(no_cache))
    assert _bearer(raw).get(SECRETS).status_code == 200


def test_over_the_limit_failures_are_not_audited_one_by_one(workspace, clock, caplog):
    bad = crypto.generate_token("svt").raw
    with caplog.at_level(logging.WARNING, logger="secretvault.api.authentication"):
        for _ in range(30):
            _bearer(bad).get(SECRETS)
    assert AuditEvent.objects.filter(action="auth.failed").count() == 20
    # One warning when the address crosses the limit, not one per refusal.
    warnings = [r for r in caplog.records if "further failures are answered 429" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0].getMessage()


def test_window_passes_and_failures_are_401_again(workspace, clock):
    bad = crypto.generate_token("svt").raw
    for _ in range(21):
        _bearer(bad).get(SECRETS)
    response = _bearer(bad).get(SECRETS)
    assert response.status_code == 429 and response["Retry-After"] == "40"
    clock["t"] += 40
    assert _bearer(bad).get(SECRETS).status_code == 401


def test_failures_against_a_known_token_id_are_counted_across_addresses(workspace, make_token, clock, caplog):
    """Per-token-id counting: a distributed guess at one token shows in the log."""
    good, raw = make_token()
    wrong = forge(good.token_id)
    with caplog.at_level(logging.WARNING, logger="secretvault.api.throttling"):
        statuses = [_bearer(wrong, f"10.0.0.{i + 1}").get(SECRETS).status_code for i in range(25)]
    # Each address is within its own limit: the answer depends on the address only,
    # so it never tells a stranger whether the id exists.
    assert set(statuses) == {401}
    [warning] = [r for r in caplog.records if good.token_id in r.getMessage()]
    assert "21 times" in warning.getMessage()
    # An unknown id counted the same way is not reported (nothing to protect).
    caplog.clear()
    unknown = crypto.generate_token("svt").raw
    with caplog.at_level(logging.WARNING, logger="secretvault.api.throttling"):
        for i in range(25):
            _bearer(unknown, f"10.1.0.{i + 1}").get(SECRETS)
    assert not [r for r in caplog.records if "failed authentication" in r.getMessage()]
    assert _bearer(raw).get(SECRETS).status_code == 200


# -- client address behind a proxy -----------------------------------------------------


def _vault(**extra):
    return override_settings(SECRETVAULT={**settings.SECRETVAULT, **extra})


def test_forwarded_for_is_ignored_unless_configured(workspace, clock):
    bad = crypto.generate_token("svt").raw
    for i in range(20):
        client = _bearer(bad, "10.9.9.9")
        assert client.get(SECRETS, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code == 401
    # A forged header does not buy a fresh counter: the peer address counts.
    assert _bearer(bad, "10.9.9.9").get(SECRETS, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_trusted_proxy_header_names_the_client(workspace, clock):
    bad = crypto.generate_token("svt").raw
    proxy = "10.9.9.9"
    with _vault(CLIENT_ADDRESS_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=1):
        for i in range(20):
            # The client forges a left-hand entry; the proxy appends what it saw.
            header = f"1.2.3.{i}, 203.0.113.5"
            assert _bearer(bad, proxy).get(SECRETS, HTTP_X_FORWARDED_FOR=header).status_code == 401
        assert _bearer(bad, proxy).get(SECRETS, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
        # Another client behind the same proxy has its own count.
        assert _bearer(bad, proxy).get(SECRETS, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 401
        events = AuditEvent.objects.filter(action="auth.failed")
        assert {event.remote_addr for event in events} == {"203.0.113.5", "203.0.113.6"}


def test_client_address_rules(rf):
    from secretvault.network import client_address

    def request(**meta):
        return rf.get("/", REMOTE_ADDR=meta.pop("peer", "10.0.0.1"), **meta)

    assert client_address(request(HTTP_X_FORWARDED_FOR="1.1.1.1")) == "10.0.0.1"
    assert client_address(request(peer="not-an-ip")) is None
    with _vault(CLIENT_ADDRESS_HEADER="X-Forwarded-For", TRUSTED_PROXY_COUNT=2):
        forwarded = "6.6.6.6, 1.1.1.1, 10.0.0.7"
        assert client_address(request(HTTP_X_FORWARDED_FOR=forwarded)) == "1.1.1.1"
        # Fewer entries than trusted proxies: it did not come through them all.
        assert client_address(request(HTTP_X_FORWARDED_FOR="1.1.1.1")) == "10.0.0.1"
        assert client_address(request()) == "10.0.0.1"
        assert client_address(request(HTTP_X_FORWARDED_FOR="6.6.6.6, junk, 10.0.0.7")) is None
    with _vault(CLIENT_ADDRESS_HEADER="X-Real-IP"):
        assert client_address(request(HTTP_X_REAL_IP="2001:db8::1")) == "2001:db8::1"


# -- passwords: HTTP Basic on the API -----------------------------------------------------


def test_basic_is_off_by_default(workspace, superuser):
    vault = {key: value for key, value in settings.SECRETVAULT.items() if key != "API_BASIC_AUTH"}
    with override_settings(SECRETVAULT=vault):
        response = APIClient().get(SECRETS, HTTP_AUTHORIZATION=basic("root"))
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="secretvault"'
    with _vault(API_BASIC_AUTH=True):
        assert APIClient().get(SECRETS, HTTP_AUTHORIZATION=basic("root")).status_code == 200


def test_wrong_passwords_then_the_right_one_is_refused_until_the_window_passes(workspace, superuser, clock):
    limit, window = PasswordFailureThrottle().parse_rate()
    assert (limit, window) == (10, 3600)
    client = APIClient()
    for n in range(limit):
        assert client.get(SECRETS, HTTP_AUTHORIZATION=basic("root", f"guess{n}")).status_code == 401
    response = client.get(SECRETS, HTTP_AUTHORIZATION=basic("root"))
    assert response.status_code == 429 and int(response["Retry-After"]) == window - 20
    # Another address, or another username from this address, is not locked.
    assert APIClient(REMOTE_ADDR="10.0.0.9").get(SECRETS, HTTP_AUTHORIZATION=basic("root")).status_code == 200
    clock["t"] += window - 20
    assert client.get(SECRETS, HTTP_AUTHORIZATION=basic("root")).status_code == 200


def test_failed_passwords_are_audited_without_the_password(workspace, superuser, clock):
    client = APIClient()
    for n in range(12):
        client.get(SECRETS, HTTP_AUTHORIZATION=basic("root", f"hunter-{n}-guess"))
    client.get(SECRETS, HTTP_AUTHORIZATION=basic("nobody", "hunter-x-guess"))
    events = list(AuditEvent.objects.filter(action="auth.failed").order_by("created_at", "sequence"))
    # Ten for root (then 429 before the password is checked), one for an unknown user.
    assert [event.detail["username"] for event in events] == ["root"] * 10 + ["nobody"]
    assert {event.detail["reason"] for event in events} == {"password"}
    for event in events:
        assert event.remote_addr == "127.0.0.1" and event.workspace_id is None
        assert "hunter" not in repr(event.detail) and "hunter" not in str(event)


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"secretvault_password_failures": "2/min"}})
def test_password_limit_comes_from_drf_throttle_rates(workspace, superuser, clock):
    client = APIClient()
    statuses = [client.get(SECRETS, HTTP_AUTHORIZATION=basic("root", "x")).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


# -- passwords: the admin login --------------------------------------------------------------


def _admin_login(client, password: str):
    return client.post("/admin/login/", {"username": "root", "password": password, "next": "/admin/"})


def test_admin_login_is_locked_after_wrong_passwords(superuser, clock):
    from django.test import Client

    client = Client()
    for n in range(10):
        response = _admin_login(client, f"guess{n}")
        assert response.status_code == 200 and response.context["form"].errors
    # The right password is refused while the lock holds...
    response = _admin_login(client, "pw")
    assert response.status_code == 200 and response.context["form"].errors
    assert "_auth_user_id" not in client.session
    events = AuditEvent.objects.filter(action="auth.failed")
    assert [event.detail["reason"] for event in events.order_by("created_at", "sequence")] == [
        "password"
    ] * 10 + ["password_locked"]
    # ...further attempts are counted but not audited one by one...
    _admin_login(client, "guess-again")
    assert events.count() == 11
    assert all("guess" not in repr(event.detail) for event in events)
    # ...and accepted once the window passes.
    clock["t"] += 3600
    response = _admin_login(client, "pw")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(superuser.pk)


def test_admin_lock_is_per_username_and_address(superuser, django_user_model, clock):
    from django.test import Client

    django_user_model.objects.create_superuser("other", "o@example.com", "pw")
    attacker = Client(REMOTE_ADDR="10.6.6.6")
    for n in range(10):
        _admin_login(attacker, f"guess{n}")
    assert _admin_login(attacker, "pw").status_code == 200
    # The person, from their own address, is not locked out by the stranger.
    assert _admin_login(Client(REMOTE_ADDR="10.0.0.2"), "pw").status_code == 302
    other = attacker.post("/admin/login/", {"username": "other", "password": "pw", "next": "/admin/"})
    assert other.status_code == 302


def test_throttle_backend_authenticates_nobody(superuser, rf, clock):
    from django.contrib.auth import authenticate

    from secretvault.logins import LoginThrottleBackend

    request = rf.post("/admin/login/")
    assert LoginThrottleBackend().authenticate(request, username="root", password="pw") is None
    assert authenticate(request, username="root", password="pw") == superuser
    assert not hasattr(LoginThrottleBackend, "get_user")  # never a session's backend


def test_token_throttle_and_password_throttle_are_separate(workspace, superuser, clock):
    bad = crypto.generate_token("svt").raw
    for _ in range(25):
        _bearer(bad).get(SECRETS)
    assert APIClient().get(SECRETS, HTTP_AUTHORIZATION=basic("root")).status_code == 200
    assert AuthFailureThrottle().scope != PasswordFailureThrottle().scope
