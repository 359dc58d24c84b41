"""The secrets list and ``load`` run the same number of queries for 10 and for 200 secrets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db


def add_secrets(make_secret, start: int, stop: int) -> None:
    for i in range(start, stop):
        envs = [["prd"], ["dev"], ["dev", "prd"], []][i % 4]
        scope = [["web"], []][i % 2]
        make_secret(f"KEY_{i:04}", f"value-{i}", envs=envs, scope=scope)


def measure(client, url: str) -> tuple[int, object]:
    count, response, _ = measure_queries(client, url)
    return count, response


def measure_queries(client, url: str, **extra) -> tuple[int, object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code in (200, 304), response.content
    return len(queries.captured_queries), response, [q["sql"] for q in queries.captured_queries]


def outside_audit(sqls: list[str]) -> list[str]:
    """The queries other than the audit insert (which Core may do in a few statements)."""
    return [sql for sql in sqls if "secretvault_auditevent" not in sql and "SAVEPOINT" not in sql.upper()]


@pytest.mark.parametrize("who", ["token", "restricted-token", "superuser"])
def test_secrets_list_query_count_is_constant(
    who, workspace, dev, prd, make_secret, make_token, bearer, su, django_assert_num_queries
):
    if who == "superuser":
        client = su
    else:
        kwargs = {"envs": ["prd"], "scope": ["web"]} if who == "restricted-token" else {}
        _token, raw = make_token(**kwargs)
        client = bearer(raw)
    url = ws_url("acme", "secrets") + "?page_size=500"
    add_secrets(make_secret, 0, 10)
    client.get(url)  # warm-up: the token's last_used_at is written once a minute at most
    small, response = measure(client, url)
    assert len(response.json()["results"]) > 0
    add_secrets(make_secret, 10, 200)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert response.json()["count"] in (200, 100 + 50)  # all, or what the restricted token sees
    print(f"secrets list ({who}): {small} queries")  # noqa: T201 - reported by the suite


@pytest.mark.parametrize(
    ("who", "query"),
    [("token", ""), ("token-prd", ""), ("token", "?env=prd"), ("superuser", "?env=prd&scope=web")],
)
def test_load_query_count_is_constant(
    who, query, workspace, dev, prd, make_secret, make_token, bearer, su, django_assert_num_queries
):
    if who == "superuser":
        client = su
    else:
        _token, raw = make_token(envs=["prd"] if who == "token-prd" else [])
        client = bearer(raw)
    url = ws_url("acme", "load") + query
    add_secrets(make_secret, 0, 10)
    client.get(url)  # warm-up (last_used_at)
    small, response, sqls = measure_queries(client, url)
    assert response.json()["secrets"]
    add_secrets(make_secret, 10, 200)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert len(response.json()["secrets"]) > 10
    if who.startswith("token"):
        # token+workspace (1), the token's environments (1), resolve (1), and for an
        # explicit env of an unrestricted token its existence check (1); then the audit insert.
        assert len(outside_audit(sqls)) <= 4, sqls
    print(f"load ({who}{query}): {small} queries")  # noqa: T201


def test_load_304_runs_fewer_queries(workspace, dev, prd, make_secret, make_token, bearer):
    _token, raw = make_token(envs=["prd"])
    client = bearer(raw)
    add_secrets(make_secret, 0, 20)
    etag = client.get(ws_url("acme", "load"))["ETag"]
    full, _, sqls = measure_queries(client, ws_url("acme", "load"))
    count, response, sqls_304 = measure_queries(client, ws_url("acme", "load"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    # The same queries, minus the audit insert.
    assert len(sqls_304) == len(outside_audit(sqls_304)) == len(outside_audit(sqls))
    assert count < full
