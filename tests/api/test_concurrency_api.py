"""Concurrent API writes on PostgreSQL: gap-free versions, one winner per check-and-set."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from secretvault import services
from secretvault.models import Secret, SecretVersion
from tests.api.conftest import basic, ws_url
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = ws_url("acme", "secrets", "COUNTER")


def client_for(authorization: str) -> APIClient:
    """One client per thread: the test client is not meant to be shared between threads."""
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def test_concurrent_api_writes_give_gap_free_versions(workspace, make_token, superuser, su):
    services.create_secret(workspace, key="COUNTER", value="start")
    _token, raw = make_token(can_write=True)
    statuses: list[int] = []

    def write(index: int) -> None:
        # Half the writers are people, half a service token.
        client = client_for(f"Bearer {raw}" if index % 2 else basic(superuser.username))
        for n in range(10):
            response = client.patch(URL, {"value": f"writer-{index}-write-{n}"})
            statuses.append(response.status_code)

    assert run_threads(6, write) == []
    assert statuses == [200] * 60
    numbers = list(SecretVersion.objects.order_by("version").values_list("version", flat=True))
    assert numbers == list(range(1, 62))
    assert Secret.objects.get().current_version == 61
    assert su.get(URL).json()["version"] == 61


def test_concurrent_check_and_set_admits_one_writer(workspace, superuser):
    services.create_secret(workspace, key="COUNTER", value="start")
    statuses: list[int] = []

    def write(index: int) -> None:
        response = client_for(basic(superuser.username)).patch(
            URL, {"value": f"writer-{index}", "expected_version": 1}
        )
        statuses.append(response.status_code)

    assert run_threads(6, write) == []
    assert sorted(statuses) == [200] + [409] * 5
    assert Secret.objects.get().current_version == 2
