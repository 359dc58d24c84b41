"""OpenAPI: the document and Swagger UI, and a schemathesis run against the test app.

The schemathesis run (WSGI, in process, so it sees the test database) generates up to 15
examples per operation, positive and negative, authenticated as a superuser with Basic
auth, against a seeded workspace, and checks that no answer is a 500 and that every
status code, content type, header and body conforms to the schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from secretvault import services
from tests.api.conftest import basic

API = "/api/v1"

EXPECTED_OPERATIONS = {
    ("get", "/workspaces/"),
    ("post", "/workspaces/"),
    ("get", "/workspaces/{ws}/"),
    ("get", "/workspaces/{ws}/environments/"),
    ("post", "/workspaces/{ws}/environments/"),
    ("get", "/workspaces/{ws}/environments/{slug}/"),
    ("patch", "/workspaces/{ws}/environments/{slug}/"),
    ("delete", "/workspaces/{ws}/environments/{slug}/"),
    ("get", "/workspaces/{ws}/secrets/"),
    ("post", "/workspaces/{ws}/secrets/"),
    ("get", "/workspaces/{ws}/secrets/{key}/"),
    ("patch", "/workspaces/{ws}/secrets/{key}/"),
    ("put", "/workspaces/{ws}/secrets/{key}/"),
    ("delete", "/workspaces/{ws}/secrets/{key}/"),
    ("get", "/workspaces/{ws}/secrets/{key}/reveal/"),
    ("get", "/workspaces/{ws}/secrets/{key}/versions/"),
    ("post", "/workspaces/{ws}/secrets/{key}/rollback/"),
    ("post", "/workspaces/{ws}/secrets/{key}/revoke/"),
    ("post", "/workspaces/{ws}/secrets/{key}/restore/"),
    ("get", "/workspaces/{ws}/stats/"),
    ("get", "/workspaces/{ws}/load/"),
    ("get", "/workspaces/{ws}/tokens/"),
    ("post", "/workspaces/{ws}/tokens/"),
    ("get", "/workspaces/{ws}/tokens/{token_id}/"),
    ("post", "/workspaces/{ws}/tokens/{token_id}/revoke/"),
    ("get", "/workspaces/{ws}/audit/"),
}


@pytest.fixture
def openapi(client) -> dict[str, Any]:
    response = client.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_documents_every_endpoint_and_error(openapi):
    assert openapi["openapi"].startswith("3.")
    operations = {
        (method, path.removeprefix(API))
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert EXPECTED_OPERATIONS <= operations
    for path, item in openapi["paths"].items():
        if path == f"{API}/schema/":
            continue
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in {"post", "put", "patch"} and operation.get("requestBody"):
                assert "400" in codes, (method, path)
            assert {"serviceToken": []} in operation["security"], (method, path)
    scheme = openapi["components"]["securitySchemes"]["serviceToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    secrets = openapi["paths"][f"{API}/workspaces/{{ws}}/secrets/"]
    assert "409" in secrets["post"]["responses"]
    params = {p["name"] for p in secrets["get"]["parameters"]}
    assert {
        "env",
        "scope",
        "token_type",
        "state",
        "expiring_within",
        "search",
        "ordering",
        "page",
        "page_size",
    } <= params
    load = openapi["paths"][f"{API}/workspaces/{{ws}}/load/"]["get"]
    assert "304" in load["responses"]


def test_schema_yaml_by_default(client):
    response = client.get(f"{API}/schema/")
    assert response.status_code == 200 and b"openapi: 3" in response.content


def test_swagger_ui_is_served_from_sidecar(client):
    response = client.get(f"{API}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert f"{API}/schema/" in html
    for cdn in ("cdn.", "jsdelivr", "unpkg", "cdnjs", "://"):
        assert cdn not in html.replace("https://swagger.io", ""), cdn


# --------------------------------------------------------------------------------------
# schemathesis


# Loaded at collection (the schema view needs no database). schemathesis's lazy
# ``from_fixture`` loader does not run under pytest 9 (it sets ``Node._nodeid``).
schema = schemathesis.openapi.from_wsgi(f"{API}/schema/?format=json", get_wsgi_application())


@pytest.fixture
def keep_test_connection() -> Any:
    """Requests go through Django's real WSGI handler, whose ``request_finished`` closes the
    database connection (and, on PostgreSQL, the test's transaction); Django's test client
    disconnects that handler the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, django_user_model, keep_test_connection) -> dict[str, str]:
    django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    workspace = services.create_workspace(slug="acme", name="Acme")
    for slug in ("dev", "prd"):
        services.create_environment(workspace, slug=slug)
    services.create_secret(workspace, key="API_KEY", value="schemathesis-global")
    services.create_secret(workspace, key="API_KEY", value="schemathesis-prd", envs=["prd"])
    services.create_secret(workspace, key="SOLO", value="schemathesis-solo", envs=["dev"])
    token, _raw = services.create_token(workspace, name="fuzz", envs=["prd"])
    return {"ws": "acme", "slug": "prd", "key": "API_KEY", "token_id": token.token_id}


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, seeded):
    # Aim most cases at objects that exist, so that they get past the lookups.
    for name, value in seeded.items():
        if name in (case.path_parameters or {}) and hash(str(case.path_parameters[name])) % 4:
            case.path_parameters[name] = value
    if case.query and isinstance(case.query.get("env"), str) and hash(case.query["env"]) % 4:
        case.query["env"] = "prd"
    if isinstance(case.body, dict) and case.method in ("PUT", "PATCH") and "key" in case.body:
        if hash(str(case.body["key"])) % 4:
            case.body["key"] = (case.path_parameters or {}).get("key", case.body["key"])
    response = case.call(headers={"Authorization": basic("root")})
    case.validate_response(response, checks=CHECKS)
    # And never a value outside reveal and load.
    if not case.path.endswith(("/reveal/", "/load/")):
        for value in ("schemathesis-global", "schemathesis-prd", "schemathesis-solo"):
            assert value not in response.text
