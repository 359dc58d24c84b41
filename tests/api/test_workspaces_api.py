"""Workspaces, environments and stats over the API; model permissions of people."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from secretvault import services
from secretvault.models import AuditEvent, Environment, Secret, Workspace
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

WORKSPACES = "/api/v1/workspaces/"


def test_workspaces_list_create_retrieve(su, workspace, other_workspace):
    listed = su.get(WORKSPACES).json()
    assert listed["count"] == 2 and [w["slug"] for w in listed["results"]] == ["acme", "globex"]
    assert set(listed["results"][0]) == {"id", "slug", "name", "created_at", "updated_at"}
    created = su.post(WORKSPACES, {"slug": "initech", "name": "Initech"})
    assert created.status_code == 201 and created.json()["slug"] == "initech"
    assert Workspace.objects.filter(slug="initech").exists()
    assert AuditEvent.objects.filter(action="workspace.create", username="root").exists()
    assert su.get(ws_url("initech")).json()["name"] == "Initech"
    assert su.post(WORKSPACES, {"slug": "initech"}).status_code == 409
    for body in ({"slug": "Bad Slug"}, {}, {"slug": 5}, {"slug": "ok", "wrapped_data_key": "x"}):
        response = su.post(WORKSPACES, body)
        assert response.status_code == 400, body
    assert su.get(ws_url("nope")).status_code == 404
    assert su.get(ws_url("NOT_A_SLUG")).status_code == 404


def test_workspace_representation_holds_no_key_material(su, workspace):
    text = su.get(ws_url("acme")).content.decode()
    assert "wrapped" not in text and workspace.data_key_id not in text


def test_workspace_permissions(workspace, person):
    _user, nobody = person()
    assert nobody.get(WORKSPACES).status_code == 403
    # No permission and no membership: the workspace does not exist for them (SPEC §9).
    assert nobody.get(ws_url("acme")).status_code == 404
    _user, viewer = person("view_workspace")
    assert viewer.get(WORKSPACES).json()["count"] == 1
    assert viewer.get(ws_url("acme")).status_code == 200
    assert viewer.post(WORKSPACES, {"slug": "x"}).status_code == 403
    _user, adder = person("add_workspace")
    assert adder.post(WORKSPACES, {"slug": "x"}).status_code == 201


def test_environments_crud(su, workspace, make_secret):
    url = ws_url("acme", "environments")
    created = su.post(url, {"slug": "stg", "name": "Staging"})
    assert created.status_code == 201
    assert set(created.json()) == {"id", "slug", "name", "created_at"}
    assert su.post(url, {"slug": "stg"}).status_code == 409
    assert su.post(url, {"slug": "Bad"}).status_code == 400
    assert su.get(url).json()["results"][0]["slug"] == "stg"
    assert su.get(ws_url("acme", "environments", "stg")).json()["name"] == "Staging"
    renamed = su.patch(ws_url("acme", "environments", "stg"), {"slug": "staging", "name": "S"})
    assert renamed.status_code == 200 and renamed.json()["slug"] == "staging"
    assert su.get(ws_url("acme", "environments", "stg")).status_code == 404
    assert su.patch(ws_url("acme", "environments", "staging"), {"slug": "no way"}).status_code == 400
    assert su.patch(ws_url("acme", "environments", "staging"), {"colour": "x"}).status_code == 400
    make_secret("USES_STAGING", "v", envs=["staging"])
    in_use = su.delete(ws_url("acme", "environments", "staging"))
    assert in_use.status_code == 409 and "detail" in in_use.json()
    Secret.objects.all().delete()
    assert su.delete(ws_url("acme", "environments", "staging")).status_code == 204
    assert not Environment.objects.exists()
    assert su.put(ws_url("acme", "environments", "x"), {}).status_code == 405
    assert su.get(ws_url("acme", "environments", "BAD_SLUG")).status_code == 404


def test_environment_rename_conflict(su, workspace, dev, prd):
    response = su.patch(ws_url("acme", "environments", "dev"), {"slug": "prd"})
    assert response.status_code == 409


def test_environment_permissions(workspace, dev, person):
    _user, viewer = person("view_environment")
    assert viewer.get(ws_url("acme", "environments")).status_code == 200
    assert viewer.post(ws_url("acme", "environments"), {"slug": "x"}).status_code == 403
    assert viewer.patch(ws_url("acme", "environments", "dev"), {"name": "x"}).status_code == 403
    assert viewer.delete(ws_url("acme", "environments", "dev")).status_code == 403
    _user, admin = person("add_environment", "change_environment", "delete_environment")
    assert admin.post(ws_url("acme", "environments"), {"slug": "x"}).status_code == 201
    assert admin.patch(ws_url("acme", "environments", "x"), {"name": "X"}).status_code == 200
    assert admin.delete(ws_url("acme", "environments", "x")).status_code == 204
    assert admin.get(ws_url("acme", "environments")).status_code == 403


def test_stats(su, workspace, make_secret):
    make_secret("A", "a")
    make_secret("B", "b", expires_at=timezone.now() + dt.timedelta(days=1))
    make_secret("C", "c", expires_at=timezone.now() + dt.timedelta(days=30))
    services.revoke_secret(make_secret("D", "d"))
    old = make_secret("E", "e", expires_at=timezone.now() + dt.timedelta(seconds=30))
    Secret.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = su.get(ws_url("acme", "stats"))
    assert response.status_code == 200
    assert response.json() == {
        "workspace": "acme",
        "total": 5,
        "active": 3,
        "expired": 1,
        "expiring_soon": 1,
        "revoked": 1,
    }
    assert su.get(ws_url("nope", "stats")).status_code == 404


def test_secret_permissions_of_people(workspace, make_secret, person):
    make_secret("API_KEY", "people-value")
    secrets = ws_url("acme", "secrets")
    key = ws_url("acme", "secrets", "API_KEY")
    _user, nobody = person()
    for method, url in (("get", secrets), ("get", key), ("get", key + "versions/")):
        assert getattr(nobody, method)(url).status_code == 404  # out of reach: as if missing
    _user, viewer = person("view_secret")
    assert viewer.get(secrets).status_code == 200
    assert viewer.get(key).status_code == 200
    assert viewer.get(key + "versions/").status_code == 200
    assert viewer.get(ws_url("acme", "stats")).status_code == 200
    reveal = viewer.get(key + "reveal/")
    assert reveal.status_code == 403 and "people-value" not in reveal.content.decode()
    assert viewer.patch(key, {"value": "x"}).status_code == 403
    assert viewer.post(secrets, {"key": "B", "value": "x"}).status_code == 403
    assert viewer.delete(key).status_code == 403
    assert viewer.post(key + "revoke/").status_code == 403
    _user, revealer = person("view_secret", "reveal_secret")
    assert revealer.get(key + "reveal/").json()["value"] == "people-value"
    _user, changer = person("change_secret")
    assert changer.patch(key, {"value": "v2"}).status_code == 200
    assert changer.post(key + "revoke/").status_code == 200
    assert changer.post(key + "restore/").status_code == 200
    assert changer.post(key + "rollback/", {"version": 1}).status_code == 403
    _user, roller = person("change_secret", "rollback_secret")
    assert roller.post(key + "rollback/", {"version": 1}).status_code == 200
    _user, adder = person("add_secret")
    assert adder.post(secrets, {"key": "B", "value": "x"}).status_code == 201
    _user, deleter = person("delete_secret")
    assert deleter.delete(key).status_code == 204
