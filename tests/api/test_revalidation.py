"""A ``load`` revalidation (SPEC §10, issue #13.2): constant cost, and never stale.

A matching ``If-None-Match`` answers 304 after two queries (the token lookup and
one read of the workspace's revision, latest passed expiry, environment and the
token's environments), whatever the number of secrets, with no decryption and
no write. Every change of §10 changes the ETag, including a secret passing its
``expires_at`` while nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from secretvault import crypto, services
from secretvault.models import AuditEvent, Secret, SecretVersion, VersionAction, Workspace
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

LOAD = ws_url("acme", "load")


def bulk_secrets(workspace: Workspace, count: int, start: int = 0) -> None:
    """``count`` more global secrets, written in bulk (the same rows the services write)."""
    for offset in range(start, start + count, 2000):
        chunk = range(offset, min(offset + 2000, start + count))
        rows = [Secret(workspace=workspace, key=f"BULK_{i:06d}", current_version=1) for i in chunk]
        Secret.objects.bulk_create(rows)
        SecretVersion.objects.bulk_create(
            SecretVersion(
                secret=secret,
                version=1,
                ciphertext=secret.encrypt(f"value-{i}", 1, workspace)[1],
                data_key_id=workspace.data_key_id,
                action=VersionAction.CREATE,
            )
            for secret, i in zip(rows, chunk, strict=True)
        )


def revalidate(client: Any, url: str, etag: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    return response, [q["sql"] for q in queries.captured_queries]


def refuse_decryption(patch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a revalidation decrypted something")

    patch.setattr(crypto, "decrypt_value", refuse)
    patch.setattr(crypto, "decrypt_values", refuse)
    patch.setattr(services, "decrypt_resolved", refuse)


@pytest.mark.parametrize(
    ("token_kwargs", "query"),
    [
        ({}, ""),
        ({}, "?env=prd"),
        ({"envs": ["prd"]}, ""),
        ({"envs": ["prd", "dev"], "scope": ["web"]}, "?env=dev"),
    ],
    ids=["unrestricted", "unrestricted-env", "one-env", "envs-and-scope"],
)
def test_revalidation_costs_two_queries_for_10_or_10000_secrets(
    workspace, dev, prd, make_secret, token_client, token_kwargs, query, monkeypatch
):
    _token, client = token_client(**token_kwargs)
    url = LOAD + query
    for i in range(10):
        make_secret(f"KEY_{i}", f"value-{i}", envs=[["prd"], ["dev"], []][i % 3], scope=[["web"], []][i % 2])
    sizes = {}
    for total in (10, 10_010):
        if total > 10:
            bulk_secrets(workspace, total - 10)
        first = client.get(url)  # also writes last_used_at, once a minute at most
        assert first.status_code == 200
        etag = first["ETag"]
        events = AuditEvent.objects.count()
        with monkeypatch.context() as patch:
            refuse_decryption(patch)
            response, sqls = revalidate(client, url, etag)
        assert response.status_code == 304 and response.content == b""
        assert response["ETag"] == etag
        # The token (with its workspace), then the revalidation query; nothing written.
        assert len(sqls) == 2, sqls
        assert all(sql.lstrip().upper().startswith("SELECT") for sql in sqls), sqls
        assert AuditEvent.objects.count() == events
        sizes[total] = len(sqls)
    assert sizes == {10: 2, 10_010: 2}


def test_revalidation_of_a_person_costs_the_same_at_any_size(
    workspace, dev, prd, make_secret, su, django_assert_num_queries, monkeypatch
):
    make_secret("A", "a")
    etag = su.get(LOAD + "?env=prd")["ETag"]
    with monkeypatch.context() as patch:
        refuse_decryption(patch)
        response, small = revalidate(su, LOAD + "?env=prd", etag)
    assert response.status_code == 304
    bulk_secrets(workspace, 2000)
    etag = su.get(LOAD + "?env=prd")["ETag"]
    with monkeypatch.context() as patch:
        refuse_decryption(patch)
        with django_assert_num_queries(len(small)):
            assert su.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_304_is_not_audited_and_a_200_is(workspace, prd, make_secret, token_client):
    make_secret("A", "a")
    _token, client = token_client()
    etag = client.get(LOAD)["ETag"]
    loads = AuditEvent.objects.filter(action="secrets.load").count()
    assert client.get(LOAD, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert AuditEvent.objects.filter(action="secrets.load").count() == loads
    assert client.get(LOAD).status_code == 200
    assert AuditEvent.objects.filter(action="secrets.load").count() == loads + 1


# --- never stale: every change of SPEC §10 changes the ETag -----------------------------


def _secret(key: str, env: str | None = None) -> Secret:
    return services.find_secret(Workspace.objects.get(slug="acme"), key, env)


def _new_value(ws: Workspace) -> None:
    services.set_value(_secret("DB_URL", "prd"), "db-prd-2")


def _rollback(ws: Workspace) -> None:
    services.set_value(_secret("API_KEY"), "api-2")
    services.rollback(_secret("API_KEY"), 1)


def _description(ws: Workspace) -> None:
    services.update_secret(_secret("API_KEY"), description="changed")


def _scope(ws: Workspace) -> None:
    services.update_secret(_secret("API_KEY"), scope=["worker"])


def _expires_at(ws: Workspace) -> None:
    services.update_secret(_secret("API_KEY"), expires_at=timezone.now() + dt.timedelta(days=3))


def _secret_envs(ws: Workspace) -> None:
    services.update_secret(_secret("API_KEY"), envs=["dev"])


def _env_create(ws: Workspace) -> None:
    services.create_environment(ws, slug="qa")


def _env_rename(ws: Workspace) -> None:
    services.update_environment(ws.environments.get(slug="dev"), slug="development")


def _env_delete(ws: Workspace) -> None:
    services.delete_environment(ws.environments.get(slug="spare"))


def _revoke(ws: Workspace) -> None:
    services.revoke_secret(_secret("API_KEY"))


def _restore(ws: Workspace) -> None:
    services.restore_secret(_secret("REVOKED"))


def _delete(ws: Workspace) -> None:
    services.delete_secret(_secret("API_KEY"))


def _create(ws: Workspace) -> None:
    services.create_secret(ws, key="NEW_KEY", value="new")


def _override(ws: Workspace) -> None:
    services.create_secret(ws, key="API_KEY", value="api-prd", envs=["prd"])


CHANGES: dict[str, Callable[[Workspace], None]] = {
    "new value": _new_value,
    "rollback": _rollback,
    "metadata: description": _description,
    "metadata: scope": _scope,
    "metadata: expires_at": _expires_at,
    "secret's environments": _secret_envs,
    "environment created": _env_create,
    "environment renamed": _env_rename,
    "environment deleted": _env_delete,
    "revoke": _revoke,
    "restore": _restore,
    "delete": _delete,
    "create": _create,
    "override beside a global": _override,
}


@pytest.fixture
def vault(workspace, dev, prd, make_secret):
    services.create_environment(workspace, slug="spare")
    make_secret("API_KEY", "api-1")
    make_secret("DB_URL", "db-global")
    make_secret("DB_URL", "db-prd", envs=["prd"])
    services.revoke_secret(make_secret("REVOKED", "revoked-value"))
    return workspace


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
@pytest.mark.parametrize(
    ("token_kwargs", "query"), [({}, "?env=prd"), ({"envs": ["dev"]}, "")], ids=["prd", "dev-token"]
)
def test_every_change_changes_the_etag(vault, token_client, change, token_kwargs, query):
    _token, client = token_client(**token_kwargs)
    before = client.get(LOAD + query)
    assert before.status_code == 200
    assert client.get(LOAD + query, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304
    CHANGES[change](vault)
    after = client.get(LOAD + query, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200, change
    assert after["ETag"] != before["ETag"]
    # And the new ETag holds until the next change.
    assert client.get(LOAD + query, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_a_secret_passing_its_expiry_changes_the_etag_with_nothing_written(
    vault, make_secret, token_client, monkeypatch
):
    start = timezone.now()
    make_secret("SHORT_LIVED", "soon-gone", expires_at=start + dt.timedelta(minutes=5))
    make_secret("LATER", "later-gone", expires_at=start + dt.timedelta(minutes=10))
    _token, client = token_client()
    first = client.get(LOAD + "?env=prd")
    assert "SHORT_LIVED" in first.json()["secrets"]
    events = AuditEvent.objects.count()

    def at(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    at(start + dt.timedelta(minutes=4))
    assert client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    at(start + dt.timedelta(minutes=5, seconds=1))
    second = client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second["ETag"] != first["ETag"]
    assert "SHORT_LIVED" not in second.json()["secrets"]
    assert client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=second["ETag"]).status_code == 304
    at(start + dt.timedelta(minutes=11))
    third = client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=second["ETag"])
    assert third.status_code == 200 and "LATER" not in third.json()["secrets"]
    # Nothing but the two 200s' audit events was written meanwhile.
    assert AuditEvent.objects.count() == events + 2


def test_etag_differs_by_env_scope_and_caller(vault, token_client):
    _token, client = token_client()
    _other, other_client = token_client()
    prd = client.get(LOAD + "?env=prd")["ETag"]
    assert client.get(LOAD + "?env=dev", HTTP_IF_NONE_MATCH=prd).status_code == 200
    assert client.get(LOAD + "?env=prd&scope=web", HTTP_IF_NONE_MATCH=prd).status_code == 200
    assert other_client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=prd).status_code == 200


def test_writes_elsewhere_leave_the_etag_alone(vault, other_workspace, token_client):
    _token, client = token_client()
    etag = client.get(LOAD + "?env=prd")["ETag"]
    services.create_secret(other_workspace, key="ELSEWHERE", value="x")
    assert client.get(LOAD + "?env=prd", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_checks_still_come_before_a_304(vault, token_client):
    _token, client = token_client(envs=["prd"])
    etag = client.get(LOAD)["ETag"]
    assert client.get(LOAD + "?env=dev", HTTP_IF_NONE_MATCH=etag).status_code == 403
    _token, unrestricted = token_client()
    assert unrestricted.get(LOAD + "?env=qa", HTTP_IF_NONE_MATCH="*").status_code == 400


@pytest.mark.parametrize("env", [None, "prd", "nope"])
def test_the_written_state_query_answers_as_the_orm_one(vault, make_secret, make_token, env):
    """``load_state`` runs hand-written SQL on SQLite and PostgreSQL; the ORM form is the reference."""
    from secretvault.models import WorkspaceHead

    make_secret("GONE", "x", expires_at=timezone.now() + dt.timedelta(seconds=30))
    later = timezone.now() + dt.timedelta(minutes=1)
    for token_kwargs in ({}, {"envs": ["prd", "dev"]}, None):
        token = None if token_kwargs is None else make_token(**token_kwargs)[0]
        token_pk = None if token is None else token.pk
        written = WorkspaceHead.objects.load_state(vault.pk, env=env, token_pk=token_pk, now=later)
        reference = WorkspaceHead.objects.all()._load_state_orm(
            vault.pk, env=env, token_pk=token_pk, now=later
        )
        assert written == reference
        assert written.revision > 0 and written.last_expiry is not None
    assert WorkspaceHead.objects.load_state(vault.pk, now=timezone.now()).last_expiry is None
