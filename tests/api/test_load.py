"""``GET /workspaces/{ws}/load/``: the resolved map, ETag/304, token defaults and limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from secretvault import crypto, services
from secretvault.models import AuditEvent, Secret
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

LOAD = ws_url("acme", "load")


@pytest.fixture
def vault(workspace, dev, prd, make_secret):
    make_secret("DB_URL", "db-global")
    make_secret("DB_URL", "db-prd", envs=["prd"])
    make_secret("DEBUG_TOKEN", "debug-dev", envs=["dev"])
    make_secret("WEB_ONLY", "web-value", scope=["web"])
    make_secret("WORKER_ONLY", "worker-value", scope=["worker"])
    make_secret("OLD", "old-value", expires_at=timezone.now() + dt.timedelta(seconds=30))
    Secret.objects.filter(key="OLD").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    services.revoke_secret(make_secret("GONE", "gone-value"))
    return workspace


ALL_GLOBAL = {"DB_URL": "db-global", "WEB_ONLY": "web-value", "WORKER_ONLY": "worker-value"}


def test_people_load_globals_by_default_and_env_overrides(su, vault):
    response = su.get(LOAD)
    assert response.status_code == 200
    assert response.json() == {"workspace": "acme", "env": None, "secrets": ALL_GLOBAL}
    assert response["Cache-Control"] == "no-store"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    prd = su.get(LOAD + "?env=prd").json()
    assert prd["env"] == "prd" and prd["secrets"] == {**ALL_GLOBAL, "DB_URL": "db-prd"}
    dev = su.get(LOAD + "?env=dev").json()["secrets"]
    assert dev == {**ALL_GLOBAL, "DEBUG_TOKEN": "debug-dev"}


def test_scope_parameter(su, vault):
    web = su.get(LOAD + "?scope=web").json()["secrets"]
    assert web == {"DB_URL": "db-global", "WEB_ONLY": "web-value"}
    both = su.get(LOAD + "?scope=web,worker").json()["secrets"]
    assert both == ALL_GLOBAL
    assert su.get(LOAD + "?scope=web&scope=worker").json()["secrets"] == ALL_GLOBAL


@pytest.mark.parametrize("query", ["?env=qa", "?env=NOT+A+SLUG", "?scope=bad%20tag", "?scope=%22x"])
def test_bad_parameters_are_400(su, vault, query):
    response = su.get(LOAD + query)
    assert response.status_code == 400
    assert set(response.json()) <= {"env", "scope"}


def test_load_is_audited_without_values(su, vault):
    su.get(LOAD + "?env=prd")
    event = AuditEvent.objects.get(action="secrets.load")
    assert event.username == "root" and event.workspace_id == vault.pk
    assert event.detail["env"] == "prd"
    assert event.detail["versions"] == {"DB_URL": 1, "WEB_ONLY": 1, "WORKER_ONLY": 1}
    for value in ("db-prd", "db-global", "web-value", "worker-value"):
        assert value not in str(event.detail)


def test_etag_and_304_without_decrypting(su, vault, monkeypatch):
    first = su.get(LOAD + "?env=prd")
    etag = first["ETag"]
    assert su.get(LOAD + "?env=prd")["ETag"] == etag
    loads = AuditEvent.objects.filter(action="secrets.load").count()

    def no_decrypt(*args, **kwargs):
        raise AssertionError("decrypted on a 304")

    monkeypatch.setattr(crypto, "decrypt_value", no_decrypt)
    monkeypatch.setattr(services, "decrypt_resolved", no_decrypt)
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = su.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b"" and response["ETag"] == etag
        assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(action="secrets.load").count() == loads
    monkeypatch.undo()

    assert su.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    su.patch(ws_url("acme", "secrets", "DB_URL") + "?env=prd", {"value": "db-prd-2"})
    changed = su.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["secrets"]["DB_URL"] == "db-prd-2"
    # Every write changes the ETag, a metadata-only one too (SPEC §10; tests/api/test_revalidation.py).
    su.patch(ws_url("acme", "secrets", "WEB_ONLY"), {"description": "d"})
    described = su.get(LOAD + "?env=prd")["ETag"]
    assert described != changed["ETag"]
    su.post(ws_url("acme", "secrets", "WEB_ONLY", "revoke"))
    assert su.get(LOAD + "?env=prd")["ETag"] != described


def test_token_restricted_to_one_env_gets_it_by_default(vault, token_client):
    token, client = token_client(envs=["prd"])
    response = client.get(LOAD)
    assert response.status_code == 200
    assert response.json()["env"] == "prd"
    assert response.json()["secrets"] == {**ALL_GLOBAL, "DB_URL": "db-prd"}
    assert client.get(LOAD + "?env=prd").json()["env"] == "prd"
    denied = client.get(LOAD + "?env=dev")
    assert denied.status_code == 403 and "detail" in denied.json()
    assert client.get(LOAD + "?env=qa").status_code == 403
    event = AuditEvent.objects.filter(action="secrets.load").first()
    assert event.token_id == token.token_id and event.user_id is None


def test_token_with_several_envs_names_one(vault, dev, token_client):
    _token, client = token_client(envs=["prd", "dev"])
    assert client.get(LOAD).json() == {"workspace": "acme", "env": None, "secrets": ALL_GLOBAL}
    assert client.get(LOAD + "?env=dev").json()["secrets"]["DEBUG_TOKEN"] == "debug-dev"


def test_unrestricted_token(vault, token_client):
    _token, client = token_client()
    assert client.get(LOAD).json()["secrets"] == ALL_GLOBAL
    assert client.get(LOAD + "?env=dev").json()["secrets"]["DEBUG_TOKEN"] == "debug-dev"
    assert client.get(LOAD + "?env=qa").status_code == 400


def test_token_scope_limits_load(vault, token_client):
    _token, client = token_client(scope=["web"])
    assert client.get(LOAD).json()["secrets"] == {"DB_URL": "db-global", "WEB_ONLY": "web-value"}
    assert client.get(LOAD + "?scope=web").json()["secrets"] == {
        "DB_URL": "db-global",
        "WEB_ONLY": "web-value",
    }
    assert client.get(LOAD + "?scope=worker").status_code == 403
    assert client.get(LOAD + "?scope=web,worker").status_code == 403


def test_people_need_reveal_permission(vault, person):
    _user, viewer = person("view_secret")
    assert viewer.get(LOAD).status_code == 403
    _user, revealer = person("view_secret", "reveal_secret")
    assert revealer.get(LOAD).json()["secrets"] == ALL_GLOBAL


def test_token_of_another_workspace_gets_404(vault, other_workspace, make_token, bearer):
    _token, raw = make_token(workspace=other_workspace)
    response = bearer(raw).get(LOAD)
    assert response.status_code == 404
    for value in ALL_GLOBAL.values():
        assert value not in response.content.decode()
