"""Issue #17.6: a cross-site GET does not reveal as the session user.

Reads that answer values (reveal, load) by a session need a same-origin request
(``Sec-Fetch-Site: same-origin`` / ``none``) or an ``X-Requested-With`` header; a
top-level link from another site sends neither. Tokens and Basic are unaffected.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from secretvault.models import AuditEvent
from tests.api.conftest import basic, ws_url

pytestmark = pytest.mark.django_db

REVEAL = ws_url("acme", "secrets", "API_KEY", "reveal")
LOAD = ws_url("acme", "load")


@pytest.fixture
def session(superuser, workspace, make_secret):
    make_secret("API_KEY", "session-value")
    client = APIClient()
    client.force_login(superuser)
    return client


def _reads() -> int:
    return AuditEvent.objects.filter(action__in=["secret.reveal", "secrets.load"]).count()


@pytest.mark.parametrize("url", [REVEAL, LOAD])
@pytest.mark.parametrize(
    "headers",
    [
        {},  # an old browser, or a tool that sends no fetch metadata
        {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "navigate"},  # a link elsewhere
        {"HTTP_SEC_FETCH_SITE": "same-site"},  # a sibling subdomain
    ],
)
def test_cross_site_value_reads_are_refused_for_sessions(session, url, headers):
    response = session.get(url, **headers)
    assert response.status_code == 403
    assert "X-Requested-With" in response.json()["detail"]
    assert "session-value" not in response.content.decode()
    assert _reads() == 0


@pytest.mark.parametrize("url", [REVEAL, LOAD])
@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "same-origin"},  # fetch() from the site's own pages
        {"HTTP_SEC_FETCH_SITE": "none"},  # typed into the address bar, a bookmark
        {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},  # a custom header: no plain cross-site request
        {"HTTP_X_REQUESTED_WITH": "fetch", "HTTP_SEC_FETCH_SITE": "cross-site"},  # CORS the project allowed
    ],
)
def test_same_origin_value_reads_are_served(session, url, headers):
    response = session.get(url, **headers)
    assert response.status_code == 200, response.content
    assert "session-value" in response.content.decode()
    assert _reads() == 1


def test_metadata_reads_are_not_affected(session):
    assert session.get(ws_url("acme", "secrets"), HTTP_SEC_FETCH_SITE="cross-site").status_code == 200
    assert session.get(ws_url("acme", "secrets", "API_KEY")).status_code == 200


def test_tokens_and_basic_are_not_affected(session, make_token, bearer):
    _token, raw = make_token()
    assert bearer(raw).get(REVEAL, HTTP_SEC_FETCH_SITE="cross-site").status_code == 200
    assert bearer(raw).get(LOAD).status_code == 200
    basic_client = APIClient()
    assert basic_client.get(REVEAL, HTTP_AUTHORIZATION=basic("root")).status_code == 200


def test_session_writes_still_need_csrf(superuser, workspace, make_secret):
    make_secret("API_KEY", "session-value")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post(ws_url("acme", "secrets", "API_KEY", "revoke"), HTTP_X_REQUESTED_WITH="x")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
