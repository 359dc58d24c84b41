"""Secrets over the API: create, read, update (PATCH/PUT, check-and-set), delete and actions."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from secretvault.models import AuditEvent, Secret, SecretVersion
from tests.api.conftest import ws_url
from tests.settings import TEST_MASTER_KEY

pytestmark = pytest.mark.django_db

SECRETS = ws_url("acme", "secrets")
METADATA_FIELDS = {
    "id",
    "workspace",
    "key",
    "description",
    "token_type",
    "scope",
    "envs",
    "expires_at",
    "is_expired",
    "revoked",
    "version",
    "created_at",
    "updated_at",
}


def key_url(key: str, *action: str, env: str | None = None) -> str:
    url = ws_url("acme", "secrets", key, *action)
    return f"{url}?env={env}" if env else url


# --------------------------------------------------------------------------------------
# Create


def test_create_answers_201_with_metadata_and_no_value(su, workspace, dev, prd):
    expires = int((timezone.now() + dt.timedelta(days=3)).timestamp())
    body = {
        "key": "STRIPE_KEY",
        "value": "sk_live_create_value",
        "description": "Stripe",
        "token_type": "api",
        "scope": ["web", "billing"],
        "envs": ["prd", "dev"],
        "expires_at": expires,
    }
    response = su.post(SECRETS, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == METADATA_FIELDS
    assert "sk_live_create_value" not in response.content.decode()
    assert data["workspace"] == "acme" and data["key"] == "STRIPE_KEY"
    assert data["scope"] == ["billing", "web"] and data["envs"] == ["dev", "prd"]
    assert data["expires_at"] == expires and data["is_expired"] is False
    assert data["revoked"] is False and data["version"] == 1 and data["token_type"] == "api"
    secret = Secret.objects.get(pk=data["id"])
    assert secret.versions.get().decrypt() == "sk_live_create_value"
    event = AuditEvent.objects.get(action="secret.create")
    assert event.username == "root" and event.key == "STRIPE_KEY" and event.version == 1


def test_create_defaults(su, workspace):
    data = su.post(SECRETS, {"key": "PLAIN", "value": ""}).json()
    assert data["envs"] == [] and data["scope"] == [] and data["description"] == ""
    assert data["token_type"] == "" and data["expires_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "x"}, "key"),
        ({"key": "K"}, "value"),
        ({"key": "K", "value": 42}, "value"),
        ({"key": "K", "value": 4.2}, "value"),
        ({"key": "K", "value": True}, "value"),
        ({"key": "K", "value": None}, "value"),
        ({"key": "K", "value": {"a": "b"}}, "value"),
        ({"key": "K", "value": ["a"]}, "value"),
        ({"key": "K", "value": "a\x00b"}, "value"),
        ({"key": "K", "value": "\ud800"}, "value"),
        ({"key": "1BAD", "value": "x"}, "key"),
        ({"key": "BAD-KEY", "value": "x"}, "key"),
        ({"key": 12, "value": "x"}, "key"),
        ({"key": "K", "value": "x", "envs": "prd"}, "envs"),
        ({"key": "K", "value": "x", "envs": [1]}, "envs"),
        ({"key": "K", "value": "x", "scope": "web"}, "scope"),
        ({"key": "K", "value": "x", "scope": ["bad tag"]}, "scope"),
        ({"key": "K", "value": "x", "token_type": "password"}, "token_type"),
        ({"key": "K", "value": "x", "description": 5}, "description"),
        ({"key": "K", "value": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": 1}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": 10**20}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": -(10**20)}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": True}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": 1.5e9}, "expires_at"),
        ({"key": "K", "value": "x", "expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
        ({"key": "K", "value": "x", "version": 7}, "version"),
        ({"key": "K", "value": "x", "id": "x"}, "id"),
        ({"key": "K", "value": "x", "workspace": "globex"}, "workspace"),
        ({"key": "K", "value": "x", "expected_version": 1}, "expected_version"),
        ({"key": "K", "value": "x", "colour": "red"}, "colour"),
    ],
)
def test_create_validation_errors_name_the_field(su, workspace, prd, body, field):
    # Encoded here (ASCII escapes) so that a lone surrogate reaches the server as JSON does.
    response = su.post(SECRETS, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Secret.objects.exists()
    if isinstance(body.get("value"), str) and body["value"] not in ("", "x"):
        assert body["value"] not in response.content.decode()


def test_non_object_bodies_are_400(su, workspace):
    for body in (["a"], "text", 5, None):
        response = su.post(SECRETS, body)
        assert response.status_code == 400
    response = su.post(SECRETS, "{not json", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()
    response = su.post(SECRETS, "key=K&value=v", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_value_size_limit_is_utf8_bytes(su, workspace):
    with override_settings(
        SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY], "MAX_VALUE_BYTES": 8, "API_BASIC_AUTH": True}
    ):
        assert su.post(SECRETS, {"key": "A", "value": "12345678"}).status_code == 201
        response = su.post(SECRETS, {"key": "B", "value": "ééééé"})  # 10 bytes
        assert response.status_code == 400 and "value" in response.json()
        assert "ééééé" not in response.content.decode()


def test_unknown_env_slugs_are_named(su, workspace, prd):
    response = su.post(SECRETS, {"key": "A", "value": "x", "envs": ["prd", "qa", "uat"]})
    assert response.status_code == 400
    message = " ".join(response.json()["envs"])
    assert "qa" in message and "uat" in message


def test_expiry_accepts_unix_seconds_iso_and_null(su, workspace):
    future = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    unix = int(future.timestamp())
    cases = {
        "A": unix,
        "B": future.isoformat(),
        "C": future.strftime("%Y-%m-%dT%H:%M:%S"),  # naive: UTC
        "D": str(unix),
        "E": None,
    }
    for key, expires_at in cases.items():
        response = su.post(SECRETS, {"key": key, "value": "x", "expires_at": expires_at})
        assert response.status_code == 201, (key, response.content)
        assert response.json()["expires_at"] == (None if expires_at is None else unix)


def test_duplicate_keys_and_overlapping_envs_are_409(su, workspace, dev, prd):
    assert su.post(SECRETS, {"key": "A", "value": "g"}).status_code == 201
    response = su.post(SECRETS, {"key": "A", "value": "g2"})
    assert response.status_code == 409 and "detail" in response.json()
    assert su.post(SECRETS, {"key": "A", "value": "p", "envs": ["prd"]}).status_code == 201
    response = su.post(SECRETS, {"key": "A", "value": "p2", "envs": ["dev", "prd"]})
    assert response.status_code == 409 and "prd" in response.json()["detail"]
    assert su.post(SECRETS, {"key": "A", "value": "d", "envs": ["dev"]}).status_code == 201
    assert Secret.objects.filter(key="A").count() == 3


# --------------------------------------------------------------------------------------
# Read


def test_retrieve_picks_by_env(su, workspace, dev, prd, make_secret):
    glob = make_secret("DB_URL", "global-db")
    prod = make_secret("DB_URL", "prod-db", envs=["prd"])
    assert su.get(key_url("DB_URL")).json()["id"] == str(glob.pk)
    assert su.get(key_url("DB_URL", env="prd")).json()["id"] == str(prod.pk)
    assert su.get(key_url("DB_URL", env="dev")).json()["id"] == str(glob.pk)


def test_ambiguous_key_is_400_naming_env(su, workspace, dev, prd, make_secret):
    make_secret("ONLY", "only-prd", envs=["prd"])
    assert su.get(key_url("ONLY")).status_code == 200  # the only one
    make_secret("ONLY", "only-dev", envs=["dev"])
    response = su.get(key_url("ONLY"))
    assert response.status_code == 400 and "env" in response.json()
    for action, method in (("", "get"), ("reveal", "get"), ("versions", "get"), ("revoke", "post")):
        parts = (action,) if action else ()
        assert getattr(su, method)(key_url("ONLY", *parts)).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        ws_url("acme", "secrets", "NOPE"),
        ws_url("acme", "secrets", "1BAD"),
        ws_url("acme", "secrets", "BAD.KEY"),
        ws_url("acme", "secrets", "NOPE", "reveal"),
        ws_url("nope", "secrets"),
        ws_url("nope", "secrets", "API_KEY"),
        ws_url("BAD_SLUG", "secrets"),
        ws_url("bad.slug", "secrets"),
        ws_url("-bad", "secrets", "API_KEY"),
    ],
)
def test_unknown_or_invalid_names_are_404(su, workspace, make_secret, url):
    make_secret()
    response = su.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


def test_env_parameter_errors(su, workspace, prd, make_secret):
    make_secret()
    assert su.get(key_url("API_KEY", env="BAD SLUG")).status_code == 400
    response = su.get(key_url("API_KEY", env="qa"))
    assert response.status_code == 400 and "env" in response.json()


def test_reveal_returns_value_uncached_and_audits(su, workspace, make_secret):
    make_secret("API_KEY", "reveal-me-123")
    response = su.get(key_url("API_KEY", "reveal"))
    assert response.status_code == 200
    data = response.json()
    assert data["value"] == "reveal-me-123" and set(data) == METADATA_FIELDS | {"value"}
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="secret.reveal")
    assert event.key == "API_KEY" and event.version == 1 and event.username == "root"
    assert "reveal-me-123" not in str(event.detail)


# --------------------------------------------------------------------------------------
# Update


def test_patch_value_writes_one_version_and_same_value_none(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    response = su.patch(key_url("API_KEY"), {"value": "v2-value"})
    assert response.status_code == 200 and response.json()["version"] == 2
    assert "v2-value" not in response.content.decode()
    assert su.patch(key_url("API_KEY"), {"value": "v2-value"}).json()["version"] == 2
    assert su.patch(key_url("API_KEY"), {"description": "d"}).json()["version"] == 2
    assert SecretVersion.objects.count() == 2


def test_check_and_set(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    ok = su.patch(key_url("API_KEY"), {"value": "v2-value", "expected_version": 1})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = su.patch(key_url("API_KEY"), {"value": "v3-value", "expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2 and "detail" in stale.json()
    assert "v3-value" not in stale.content.decode()
    put_stale = su.put(key_url("API_KEY"), {"value": "v3-value", "expected_version": 1})
    assert put_stale.status_code == 409
    assert Secret.objects.get().current_version == 2
    assert su.patch(key_url("API_KEY"), {"expected_version": "x"}).status_code == 400
    assert su.patch(key_url("API_KEY"), {"expected_version": 0}).status_code == 400


def test_patch_refuses_key_change_and_read_only_fields(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    response = su.patch(key_url("API_KEY"), {"key": "OTHER"})
    assert response.status_code == 400 and "key" in response.json()
    assert su.patch(key_url("API_KEY"), {"key": "API_KEY"}).status_code == 200
    for field, value in (("version", 9), ("id", "x"), ("workspace", "globex"), ("revoked", True)):
        response = su.patch(key_url("API_KEY"), {field: value})
        assert response.status_code == 400 and field in response.json()
    secret = Secret.objects.get()
    assert secret.current_version == 1 and secret.key == "API_KEY" and not secret.is_revoked


def test_patch_env_change_conflict_is_409(su, workspace, dev, prd, make_secret):
    make_secret("A", "p", envs=["prd"])
    make_secret("A", "d", envs=["dev"])
    response = su.patch(key_url("A", env="dev"), {"envs": ["dev", "prd"]})
    assert response.status_code == 409


def test_put_replaces_metadata_and_keeps_value_when_absent(su, workspace, prd, make_secret):
    make_secret(
        "API_KEY",
        "v1-value",
        description="d",
        token_type="api",
        scope=["web"],
        envs=["prd"],
        expires_at=timezone.now() + dt.timedelta(days=2),
    )
    response = su.put(key_url("API_KEY"), {"key": "API_KEY"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["description"] == "" and data["token_type"] == "" and data["scope"] == []
    assert data["envs"] == [] and data["expires_at"] is None and data["version"] == 1
    response = su.put(key_url("API_KEY"), {"value": "v2-value", "description": "new"})
    assert response.json()["version"] == 2 and response.json()["description"] == "new"
    assert su.get(key_url("API_KEY", "reveal")).json()["value"] == "v2-value"


def test_update_validation(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    for body in ({"value": 1}, {"envs": ["nope"]}, {"expires_at": 0}, {"scope": [""]}):
        assert su.patch(key_url("API_KEY"), body).status_code == 400, body
    assert Secret.objects.get().current_version == 1


# --------------------------------------------------------------------------------------
# Delete, versions, rollback, revoke, restore


def test_delete(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    response = su.delete(key_url("API_KEY"))
    assert response.status_code == 204 and response.content == b""
    assert not Secret.objects.exists() and not SecretVersion.objects.exists()
    assert su.delete(key_url("API_KEY")).status_code == 404
    assert AuditEvent.objects.filter(action="secret.delete", key="API_KEY").exists()


def test_versions_newest_first_paginated(su, workspace, make_secret, make_token, bearer):
    secret = make_secret("API_KEY", "v1-value")
    su.patch(key_url("API_KEY"), {"value": "v2-value"})
    _token, raw = make_token(can_write=True)
    bearer(raw).patch(key_url("API_KEY"), {"value": "v3-value"})
    response = su.get(key_url("API_KEY", "versions"))
    data = response.json()
    assert response.status_code == 200 and data["count"] == 3
    assert [v["version"] for v in data["results"]] == [3, 2, 1]
    newest = data["results"][0]
    assert set(newest) == {"version", "action", "source_version", "created_by", "token_id", "created_at"}
    assert newest["token_id"] == _token.token_id and newest["created_by"] is None
    assert data["results"][1]["created_by"] == "root" and data["results"][1]["token_id"] is None
    assert data["results"][2]["action"] == "create"
    page = su.get(key_url("API_KEY", "versions") + "?page_size=1&page=2").json()
    assert [v["version"] for v in page["results"]] == [2] and page["next"] and page["previous"]
    for value in ("v1-value", "v2-value", "v3-value"):
        assert value not in response.content.decode()
    assert secret.current_version == 1  # the fixture's instance, untouched


def test_rollback(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    su.patch(key_url("API_KEY"), {"value": "v2-value"})
    response = su.post(key_url("API_KEY", "rollback"), {"version": 1})
    assert response.status_code == 200 and response.json()["version"] == 3
    assert "v1-value" not in response.content.decode()
    newest = su.get(key_url("API_KEY", "versions")).json()["results"][0]
    assert newest["action"] == "rollback" and newest["source_version"] == 1
    assert su.get(key_url("API_KEY", "reveal")).json()["value"] == "v1-value"
    for body, field in (
        ({"version": 99}, "version"),
        ({}, "version"),
        ({"version": "1"}, "version"),
        ({"version": 0}, "version"),
        ({"version": 1, "x": 1}, "x"),
    ):
        response = su.post(key_url("API_KEY", "rollback"), body)
        assert response.status_code == 400 and field in response.json(), body
    assert Secret.objects.get().current_version == 3


def test_rollback_check_and_set(su, workspace, make_secret):
    """``expected_version`` makes a rollback a check-and-set, as for a PATCH: a stale one is 409."""
    make_secret("API_KEY", "v1-value")
    su.patch(key_url("API_KEY"), {"value": "v2-value"})
    stale = su.post(key_url("API_KEY", "rollback"), {"version": 1, "expected_version": 1})
    assert stale.status_code == 409 and Secret.objects.get().current_version == 2
    assert "v1-value" not in stale.content.decode() and "v2-value" not in stale.content.decode()
    fresh = su.post(key_url("API_KEY", "rollback"), {"version": 1, "expected_version": 2})
    assert fresh.status_code == 200 and fresh.json()["version"] == 3


def test_revoke_and_restore(su, workspace, make_secret):
    make_secret("API_KEY", "v1-value")
    response = su.post(key_url("API_KEY", "revoke"))
    assert response.status_code == 200 and response.json()["revoked"] is True
    assert su.post(key_url("API_KEY", "revoke")).json()["revoked"] is True  # idempotent
    assert su.get(ws_url("acme", "load")).json()["secrets"] == {}
    response = su.post(key_url("API_KEY", "restore"))
    assert response.status_code == 200 and response.json()["revoked"] is False
    assert su.get(ws_url("acme", "load")).json()["secrets"] == {"API_KEY": "v1-value"}
    actions = list(AuditEvent.objects.filter(key="API_KEY").values_list("action", flat=True))
    assert actions.count("secret.revoke") == 1 and actions.count("secret.restore") == 1


def test_methods_not_in_the_table_are_405(su, workspace, make_secret):
    make_secret()
    assert su.options(SECRETS).status_code == 405
    assert su.put(SECRETS, {}).status_code == 405
    assert su.delete(SECRETS).status_code == 405
    assert su.post(key_url("API_KEY", "reveal")).status_code == 405
    assert su.get(key_url("API_KEY", "rollback")).status_code == 405


def test_values_round_trip_byte_for_byte(su, workspace):
    """Whitespace, newlines and any Unicode are kept exactly: a secret is not a form field."""
    value = "  line one\n\tline two  \r\n  🔑 ünïcode \u2028 end  "
    response = su.post(ws_url("acme", "secrets"), {"key": "PEM_LIKE", "value": value})
    assert response.status_code == 201
    assert su.get(key_url("PEM_LIKE") + "reveal/").json()["value"] == value
    assert su.get(ws_url("acme", "load")).json()["secrets"]["PEM_LIKE"] == value
    assert su.patch(key_url("PEM_LIKE"), {"value": value + " "}).status_code == 200
    assert su.get(key_url("PEM_LIKE") + "reveal/").json()["value"] == value + " "
