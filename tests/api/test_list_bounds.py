"""Scope tags and environment lists are bounded at every door (issue 15).

The API's list fields once meant to default to 100 items, but that ``__init__``
sat after a ``return`` and never ran: a secret could carry 100,000 scope tags.
The bound now lives in the core (``validators.validate_scope``) and in the
API's list fields.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from secretvault import services
from secretvault.models import Secret, ServiceToken
from secretvault.validators import MAX_SCOPE_TAGS, validate_scope
from tests.api.conftest import ws_url
from tests.test_command import Cli, cli  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db

TAGS = [f"tag{i}" for i in range(MAX_SCOPE_TAGS)]
TOO_MANY = [*TAGS, "one-more"]


def test_validate_scope_takes_the_bound_and_refuses_one_more() -> None:
    assert validate_scope(TAGS) == sorted(TAGS)
    with pytest.raises(ValidationError) as caught:
        validate_scope(TOO_MANY)
    assert caught.value.code == "too_many_scope_tags"


def test_validate_scope_stops_reading_a_huge_list_at_the_bound() -> None:
    consumed = 0

    def huge() -> Iterator[str]:
        nonlocal consumed
        for _ in range(100_000):
            consumed += 1
            yield "web"

    with pytest.raises(ValidationError):
        validate_scope(huge())
    assert consumed == MAX_SCOPE_TAGS + 1


def test_services_refuse_too_many_tags_and_write_nothing(workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_secret(workspace, key="MANY", value="v", scope=TOO_MANY)
    assert "scope" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.create_token(workspace, name="many", scope=TOO_MANY)
    assert not Secret.objects.exists() and not ServiceToken.objects.exists()


@pytest.mark.parametrize("field", ["scope", "envs"])
def test_api_secret_create_refuses_long_lists(su, workspace, field) -> None:
    body = {"key": "MANY", "value": "v", field: [f"x{i}" for i in range(100_000)]}
    response = su.post(ws_url("acme", "secrets"), body)
    assert response.status_code == 400, response.content
    assert response.json()[field] == [f"Ensure this field has no more than {MAX_SCOPE_TAGS} elements."]
    assert not Secret.objects.exists()


def test_api_secret_accepts_the_bound(su, workspace) -> None:
    response = su.post(ws_url("acme", "secrets"), {"key": "MANY", "value": "v", "scope": TAGS})
    assert response.status_code == 201, response.content
    assert len(response.json()["scope"]) == MAX_SCOPE_TAGS


def test_api_secret_update_refuses_too_many_tags(su, workspace, make_secret) -> None:
    secret = make_secret("MANY", "v")
    response = su.patch(ws_url("acme", "secrets", "MANY"), {"scope": TOO_MANY})
    assert response.status_code == 400, response.content
    assert "scope" in response.json()
    secret.refresh_from_db()
    assert secret.scope == []


@pytest.mark.parametrize("field", ["scope", "envs"])
def test_api_token_create_refuses_long_lists(su, workspace, field) -> None:
    body = {"name": "many", field: [f"x{i}" for i in range(MAX_SCOPE_TAGS + 1)]}
    response = su.post(ws_url("acme", "tokens"), body)
    assert response.status_code == 400, response.content
    assert response.json()[field] == [f"Ensure this field has no more than {MAX_SCOPE_TAGS} elements."]
    assert not ServiceToken.objects.exists()


def test_load_refuses_too_many_scope_parameters(su, workspace) -> None:
    response = su.get(ws_url("acme", "load") + "?scope=" + ",".join(TOO_MANY))
    assert response.status_code == 400
    assert "scope" in response.json()


def test_cli_set_refuses_too_many_tags(cli: Cli, workspace) -> None:  # noqa: F811
    args = [arg for tag in TOO_MANY for arg in ("--scope", tag)]
    result = cli("set", "MANY", "v", "-w", "acme", *args)
    assert result.code == 1
    assert "scope: At most 100 scope tags." in result.error()
    assert not Secret.objects.exists()
