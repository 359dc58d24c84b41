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
    """The queries other than the audit append (the event insert and the chain head's update)."""
    return [
        sql
        for sql in sqls
        if "secretvault_auditevent" not in sql
        and not sql.startswith('UPDATE "secretvault_workspacehead"')
        and 'FROM "secretvault_workspacehead"' not in sql
        and not sql.upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]


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
        # token+workspace (1); revision, expiry, env existence and the token's environments (1);
        # resolve (1); then the audit append: the head's compare-and-set and the event (and a
        # read of the head when this process has not cached it: always, inside a test transaction).
        assert len(outside_audit(sqls)) == 3, sqls
        assert len(sqls) - len(outside_audit(sqls)) <= 3 + (connection.vendor == "sqlite") * 2, sqls
    print(f"load ({who}{query}): {small} queries")  # noqa: T201
