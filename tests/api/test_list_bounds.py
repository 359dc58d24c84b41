"""Every list-valued input has an upper bound (issue #10, "Also"): MAX_LIST_ITEMS from every door."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from secretvault import services
from secretvault.models import Secret, ServiceToken
from secretvault.validators import MAX_LIST_ITEMS, validate_scope
from tests.api.conftest import ws_url

pytestmark = pytest.mark.django_db

# One real environment named too often: without a bound, it would be accepted.
TOO_MANY_ENVS = ["dev"] * (MAX_LIST_ITEMS + 1)
TOO_MANY_TAGS = [f"t{i}" for i in range(MAX_LIST_ITEMS + 1)]


def test_scope_validator_is_bounded():
    assert len(validate_scope(TOO_MANY_TAGS[:-1])) == MAX_LIST_ITEMS
    with pytest.raises(ValidationError) as raised:
        validate_scope(TOO_MANY_TAGS)
    assert raised.value.code == "too_many"
    # A generator is not consumed past the bound.
    consumed = []

    def endless():
        i = 0
        while True:
            consumed.append(i)
            yield f"t{i}"
            i += 1

    with pytest.raises(ValidationError):
        validate_scope(endless())
    assert len(consumed) == MAX_LIST_ITEMS + 1


def test_environment_lists_are_bounded_in_the_services(workspace, dev):
    assert services.environments_by_slug(workspace, TOO_MANY_ENVS[:-1]) == [dev]
    with pytest.raises(ValidationError, match=f"At most {MAX_LIST_ITEMS} environments"):
        services.environments_by_slug(workspace, TOO_MANY_ENVS)
    with pytest.raises(ValidationError):
        services.create_secret(workspace, key="K", value="v", envs=TOO_MANY_ENVS)
    with pytest.raises(ValidationError):
        services.create_token(workspace, name="t", envs=TOO_MANY_ENVS)
    with pytest.raises(ValidationError):
        services.create_secret(workspace, key="K", value="v", scope=TOO_MANY_TAGS)
    with pytest.raises(ValidationError):
        services.create_token(workspace, name="t", scope=TOO_MANY_TAGS)
    assert not Secret.objects.exists() and not ServiceToken.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (("secrets",), {"key": "K", "value": "v", "envs": TOO_MANY_ENVS}, "envs"),
        (("tokens",), {"name": "t", "envs": TOO_MANY_ENVS}, "envs"),
    ],
)
def test_api_refuses_oversized_environment_lists(su, workspace, dev, path, body, field):
    response = su.post(ws_url("acme", *path), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Secret.objects.exists() and not ServiceToken.objects.exists()


def test_api_refuses_oversized_environment_lists_on_update(su, workspace, dev, make_secret):
    make_secret("K", "v")
    response = su.patch(ws_url("acme", "secrets", "K"), {"envs": TOO_MANY_ENVS}, format="json")
    assert response.status_code == 400 and "envs" in response.json()


def test_api_secret_create_refuses_a_huge_scope_and_accepts_the_bound(su, workspace):
    # The serializer's bound once sat after a ``return`` and never ran (issue #15).
    huge = {"key": "MANY", "value": "v", "scope": [f"x{i}" for i in range(100_000)]}
    response = su.post(ws_url("acme", "secrets"), huge, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["scope"] == [f"Ensure this field has no more than {MAX_LIST_ITEMS} elements."]
    response = su.post(
        ws_url("acme", "secrets"), {"key": "MANY", "value": "v", "scope": TOO_MANY_TAGS[:-1]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["scope"]) == MAX_LIST_ITEMS


def test_load_refuses_too_many_scope_parameters(su, workspace):
    response = su.get(ws_url("acme", "load") + "?scope=" + ",".join(TOO_MANY_TAGS))
    assert response.status_code == 400
    assert "scope" in response.json()
