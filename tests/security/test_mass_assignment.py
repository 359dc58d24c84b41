"""Fields a client must never set: workspace, version, id, created_by (and friends)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from secretvault.models import Secret, SecretVersion

pytestmark = pytest.mark.django_db

FORGED = {"workspace": "globex", "version": 42, "id": "00000000-0000-0000-0000-000000000000", "created_by": 1}


@pytest.fixture
def writer(workspace, make_token):
    token, raw = make_token(can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return token, client


@pytest.mark.parametrize("field", sorted(FORGED))
def test_create_never_applies_forged_fields(workspace, other_workspace, superuser, writer, field):
    token, client = writer
    body = {"key": "FORGED", "value": "v", field: FORGED[field]}
    response = client.post("/api/v1/workspaces/acme/secrets/", body, format="json")
    # Refused outright, or accepted with the field ignored: never applied.
    assert response.status_code in (201, 400), response.content
    for secret in Secret.objects.filter(key="FORGED"):
        assert secret.workspace == workspace
        assert secret.current_version == 1
        assert str(secret.pk) != FORGED["id"]
        version = SecretVersion.objects.get(secret=secret)
        assert version.created_by is None and version.created_by_token == token
    assert not Secret.objects.filter(workspace=other_workspace).exists()


@pytest.mark.parametrize("field", sorted(FORGED))
def test_update_never_applies_forged_fields(workspace, make_secret, superuser, writer, field):
    token, client = writer
    secret = make_secret("TARGET", "v1")
    body = {"value": "v2", field: FORGED[field]}
    response = client.patch("/api/v1/workspaces/acme/secrets/TARGET/", body, format="json")
    assert response.status_code in (200, 400), response.content
    secret.refresh_from_db()
    assert secret.workspace == workspace and str(secret.pk) != FORGED["id"]
    assert secret.current_version in (1, 2)  # 2 only if the value was written, never 42
    newest = SecretVersion.objects.filter(secret=secret).order_by("-version").first()
    if newest.version == 2:
        assert newest.created_by is None and newest.created_by_token == token
