"""Breaker finding: a short, deeply nested JSON body was a RecursionError (500) on every
write route; it is a 400 like any other malformed body, and nothing is written."""

from __future__ import annotations

import pytest

from secretvault.models import Secret, ServiceToken, WorkspaceMember
from tests.api.conftest import su, ws_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("route", ["secrets", "tokens", "members", "environments", None])
@pytest.mark.parametrize("body", ['{"key": ' * 50_000, "[" * 50_000], ids=["objects", "lists"])
def test_deeply_nested_body_is_400(workspace, su, route, body):  # noqa: F811
    url = ws_url("acme", route) if route else "/api/v1/workspaces/"
    response = su.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "detail" in response.json()
    assert not Secret.objects.exists() and not ServiceToken.objects.exists()
    assert not WorkspaceMember.objects.exists()
