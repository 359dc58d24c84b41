"""Service-token management and the audit trail over the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from secretvault.models import AuditEvent, ServiceToken
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

TOKENS = ws_url("acme", "tokens")
TOKEN_FIELDS = {
    "token_id",
    "name",
    "description",
    "envs",
    "scope",
    "can_write",
    "expires_at",
    "revoked",
    "last_used_at",
    "created_at",
}


def test_create_shows_raw_token_once(su, workspace, prd, bearer):
    expires = int((timezone.now() + dt.timedelta(days=30)).timestamp())
    body = {"name": "ci", "envs": ["prd"], "scope": ["web"], "can_write": True, "expires_at": expires}
    response = su.post(TOKENS, body)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == TOKEN_FIELDS | {"token"}
    assert data["envs"] == ["prd"] and data["scope"] == ["web"] and data["can_write"] is True
    assert data["expires_at"] == expires and data["revoked"] is False
    raw = data["token"]
    assert raw.startswith(f"svt_{data['token_id']}_")
    # Never again:
    detail = su.get(ws_url("acme", "tokens", data["token_id"]))
    assert set(detail.json()) == TOKEN_FIELDS and raw not in detail.content.decode()
    assert raw not in su.get(TOKENS).content.decode()
    assert raw not in su.get(ws_url("acme", "audit")).content.decode()
    # And it works.
    assert bearer(raw).get(ws_url("acme", "secrets")).status_code == 200
    token = ServiceToken.objects.get(token_id=data["token_id"])
    assert token.created_by.username == "root"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "envs": ["nope"]}, "envs"),
        ({"name": "x", "scope": ["bad tag"]}, "scope"),
        ({"name": "x", "can_write": "yes"}, "can_write"),
        ({"name": "x", "expires_at": 5}, "expires_at"),
        ({"name": "x", "token_id": "0123456789abcdef"}, "token_id"),
        ({"name": "x", "digest": "x"}, "digest"),
    ],
)
def test_create_validation(su, workspace, body, field):
    response = su.post(TOKENS, body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert not ServiceToken.objects.exists()


def test_list_retrieve_revoke(su, workspace, make_token, bearer):
    first, _ = make_token(name="first")
    second, raw = make_token(name="second", description="deploys")
    listed = su.get(TOKENS).json()
    assert listed["count"] == 2 and {t["name"] for t in listed["results"]} == {"first", "second"}
    assert su.get(TOKENS + "?search=deploy").json()["count"] == 1
    assert su.get(ws_url("acme", "tokens", second.token_id)).json()["name"] == "second"
    response = su.post(ws_url("acme", "tokens", second.token_id, "revoke"))
    assert response.status_code == 200 and response.json()["revoked"] is True
    assert su.post(ws_url("acme", "tokens", second.token_id, "revoke")).status_code == 200
    assert bearer(raw).get(ws_url("acme", "secrets")).status_code == 401
    assert su.get(TOKENS + "?state=revoked").json()["count"] == 1
    assert su.get(TOKENS + "?state=active").json()["results"][0]["name"] == "first"
    assert su.get(TOKENS + "?state=bogus").status_code == 400
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1
    for bad in ("nope", "0123456789ABCDEF", "0123456789abcdef", "0123456789abcde"):
        assert su.get(ws_url("acme", "tokens", bad)).status_code == 404


def test_tokens_of_another_workspace_are_404(su, workspace, other_workspace, make_token):
    theirs, _ = make_token(workspace=other_workspace)
    assert su.get(ws_url("acme", "tokens", theirs.token_id)).status_code == 404
    assert su.post(ws_url("acme", "tokens", theirs.token_id, "revoke")).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_revoked


def test_token_permissions_of_people(workspace, make_token, person):
    token, _ = make_token()
    _user, viewer = person("view_servicetoken")
    assert viewer.get(TOKENS).status_code == 200
    assert viewer.post(TOKENS, {"name": "x"}).status_code == 403
    assert viewer.post(ws_url("acme", "tokens", token.token_id, "revoke")).status_code == 403
    _user, adder = person("add_servicetoken", "view_secret", "reveal_secret")
    assert adder.post(TOKENS, {"name": "x"}).status_code == 201
    assert adder.get(TOKENS).status_code == 403
    _user, revoker = person("revoke_servicetoken")
    assert revoker.post(ws_url("acme", "tokens", token.token_id, "revoke")).status_code == 200


def test_audit_trail(su, workspace, other_workspace, make_secret, make_token, bearer):
    make_secret("API_KEY", "audit-value-1")
    make_secret("OTHER_WS", "audit-value-2", workspace=other_workspace)
    token, raw = make_token(can_write=True)
    su.get(ws_url("acme", "secrets", "API_KEY", "reveal"))
    bearer(raw).patch(ws_url("acme", "secrets", "API_KEY"), {"value": "audit-value-3"})
    response = su.get(ws_url("acme", "audit"))
    assert response.status_code == 200
    events = response.json()["results"]
    text = response.content.decode()
    for value in ("audit-value-1", "audit-value-2", "audit-value-3", raw):
        assert value not in text
    assert events[0]["action"] == "secret.update" and events[0]["actor"] == f"token:{token.token_id}"
    assert events[1]["action"] == "secret.reveal" and events[1]["actor"] == "root"
    assert "OTHER_WS" not in text  # another workspace's trail
    times = [e["created_at"] for e in events]
    assert times == sorted(times, reverse=True)
    assert set(events[0]) == {
        "id",
        "action",
        "key",
        "version",
        "actor",
        "username",
        "token_id",
        "remote_addr",
        "detail",
        "created_at",
    }


def test_audit_filters(su, workspace, make_secret, make_token, bearer):
    make_secret("A", "a")
    make_secret("B", "b")
    token, raw = make_token()
    su.get(ws_url("acme", "secrets", "A", "reveal"))
    bearer(raw).get(ws_url("acme", "secrets", "B", "reveal"))
    audit = ws_url("acme", "audit")
    reveals = su.get(audit + "?action=secret.reveal").json()
    assert reveals["count"] == 2
    assert su.get(audit + "?key=A&action=secret.reveal").json()["count"] == 1
    assert su.get(audit + "?actor=root").json()["results"][0]["key"] == "A"
    by_token = su.get(audit + f"?actor=token:{token.token_id}").json()
    assert by_token["count"] == 1 and by_token["results"][0]["key"] == "B"
    # "token:" alone names no token: no events, not the people's (whose token_id is "").
    assert su.get(audit + "?actor=token:").json()["count"] == 0
    now = timezone.now()
    future = int((now + dt.timedelta(hours=1)).timestamp())
    assert su.get(audit + f"?since={future}").json()["count"] == 0
    assert su.get(audit + f"?until={future}").json()["count"] >= 4
    past = (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert su.get(audit + f"?until={past}").json()["count"] == 0
    assert su.get(audit + "?since=yesterday").status_code == 400
    assert su.get(audit + "?since=2026-13-45T00:00:00").status_code == 400


def test_audit_permissions(workspace, person):
    _user, nobody = person("view_secret")
    assert nobody.get(ws_url("acme", "audit")).status_code == 403
    _user, auditor = person("view_auditevent")
    assert auditor.get(ws_url("acme", "audit")).status_code == 200
