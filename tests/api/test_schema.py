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
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from openapi_spec_validator import OpenAPIV30SpecValidator

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
# The document says exactly what the API does (#16 item 6)

METHODS = ("get", "post", "put", "patch", "delete")


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = openapi["components"]["schemas"][name]
    return schema


def request_schema(openapi: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    return resolve(openapi, operation["requestBody"]["content"]["application/json"]["schema"])


def test_schema_is_valid_under_strict_openapi_validation(openapi):
    OpenAPIV30SpecValidator(openapi).validate()


def test_every_operation_has_a_summary_and_a_unique_operation_id(openapi):
    ids = []
    for method, path, operation in operations(openapi):
        assert operation.get("summary", "").strip(), (method, path)
        assert operation.get("operationId"), (method, path)
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_nullable_always_has_a_sibling_type(openapi):
    """OpenAPI 3.0.3: ``nullable`` without ``type`` means nothing to strict validators."""

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("nullable"):
                assert "type" in node, where
            for name, child in node.items():
                walk(child, f"{where}/{name}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}")

    walk(openapi, "#")


@pytest.mark.parametrize("component", ["SecretCreate", "PatchedSecretUpdate", "ServiceTokenCreate"])
def test_expires_at_accepts_what_the_api_accepts(openapi, component):
    schema = openapi["components"]["schemas"][component]["properties"]["expires_at"]
    validator = OAS30WriteValidator(schema, format_checker=oas30_format_checker)
    for accepted in (None, 1893456000, "2030-01-01T00:00:00Z"):
        assert validator.is_valid(accepted), accepted
    for refused in ("soon", 1.5, [], {}):
        assert not validator.is_valid(refused), refused


def test_request_bodies_refuse_unknown_fields(openapi):
    bodies = [(m, p, o) for m, p, o in operations(openapi) if "requestBody" in o]
    assert len(bodies) >= 10
    for method, path, operation in bodies:
        schema = request_schema(openapi, operation)
        assert schema["type"] == "object", (method, path)
        assert schema["additionalProperties"] is False, (method, path)


# Every route that takes a body, with a valid body but for one unknown field.
BODY_ROUTES = [
    ("post", "", {"slug": "newws"}),
    ("post", "environments/", {"slug": "stg"}),
    ("patch", "environments/dev/", {"name": "Dev"}),
    ("post", "secrets/", {"key": "NEW_KEY", "value": "v"}),
    ("put", "secrets/API_KEY/", {"value": "v"}),
    ("patch", "secrets/API_KEY/", {"value": "v"}),
    ("post", "secrets/API_KEY/rollback/", {"version": 1}),
    ("post", "secrets/API_KEY/revoke/", {}),
    ("post", "secrets/API_KEY/restore/", {}),
    ("post", "tokens/", {"name": "ci"}),
    ("post", "tokens/{token_id}/revoke/", {}),
]


@pytest.fixture
def body_targets(su, workspace, dev, make_secret, make_token) -> dict[str, str]:
    make_secret("API_KEY", "v1")
    token, _raw = make_token(name="existing")
    return {"token_id": token.token_id}


@pytest.mark.parametrize(("method", "tail", "body"), BODY_ROUTES)
def test_every_body_refuses_an_unknown_field(su, body_targets, method, tail, body):
    url = f"{API}/workspaces/" + ("" if method == "post" and tail == "" else "acme/") + tail
    url = url.format(**body_targets)
    response = getattr(su, method)(url, {**body, "bogus": 1}, format="json")
    assert response.status_code == 400, response.content
    assert "bogus" in response.json()
    # The same body without the unknown field is accepted: the field alone was refused.
    assert getattr(su, method)(url, body, format="json").status_code in (200, 201)


def test_actions_without_input_take_no_body_or_an_empty_one(su, body_targets):
    url = f"{API}/workspaces/acme/secrets/API_KEY/revoke/"
    assert su.post(url).status_code == 200
    assert su.post(url, {}, format="json").status_code == 200
    assert su.post(url, [], format="json").status_code == 400


def test_documented_response_headers(openapi):
    for method, path, operation in operations(openapi):
        if path == f"{API}/schema/":
            continue
        answers = operation["responses"]
        assert answers["401"]["headers"]["WWW-Authenticate"]["required"] is True, (method, path)
        assert answers["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer", (method, path)
        assert answers["405"]["headers"]["Allow"]["required"] is True, (method, path)
    ws = f"{API}/workspaces/{{ws}}"
    load = openapi["paths"][f"{ws}/load/"]["get"]["responses"]
    for code in ("200", "304"):
        assert {"ETag", "Cache-Control"} <= set(load[code]["headers"]), code
    reveal = openapi["paths"][f"{ws}/secrets/{{key}}/reveal/"]["get"]["responses"]
    assert reveal["200"]["headers"]["Cache-Control"]["schema"]["enum"] == ["no-store"]
    created = openapi["paths"][f"{ws}/tokens/"]["post"]["responses"]
    assert created["201"]["headers"]["Cache-Control"]["schema"]["enum"] == ["no-store"]


def test_the_documented_headers_are_sent(su, anon, workspace, make_secret, fresh_throttle_window):
    make_secret("API_KEY", "v1")
    load = su.get(f"{API}/workspaces/acme/load/")
    assert load["ETag"] and load["Cache-Control"] == "no-store"
    again = su.get(f"{API}/workspaces/acme/load/", HTTP_IF_NONE_MATCH=load["ETag"])
    assert again.status_code == 304 and again["ETag"] == load["ETag"] and again["Cache-Control"] == "no-store"
    assert su.get(f"{API}/workspaces/acme/secrets/API_KEY/reveal/")["Cache-Control"] == "no-store"
    assert su.post(f"{API}/workspaces/acme/tokens/", {"name": "t"})["Cache-Control"] == "no-store"
    unauthenticated = anon.get(f"{API}/workspaces/")
    assert unauthenticated.status_code == 401
    assert unauthenticated["WWW-Authenticate"] == 'Bearer realm="secretvault"'
    not_allowed = su.put(f"{API}/workspaces/acme/environments/dev/", {})
    assert not_allowed.status_code == 405 and "PATCH" in not_allowed["Allow"]
    for _ in range(25):
        throttled = anon.get(f"{API}/workspaces/", HTTP_AUTHORIZATION="Bearer svt_wrong")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 0


def test_405_406_415_are_documented(openapi):
    for method, path, operation in operations(openapi):
        codes = set(operation["responses"])
        assert {"405", "406"} <= codes, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= codes, (method, path)


@pytest.mark.parametrize(("method", "tail", "body"), BODY_ROUTES)
def test_415_on_every_body_that_is_not_json(su, body_targets, method, tail, body):
    url = f"{API}/workspaces/" + ("" if method == "post" and tail == "" else "acme/") + tail
    url = url.format(**body_targets)
    response = getattr(su, method)(url, "slug=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415, response.content


def test_406_when_json_is_not_acceptable(su, workspace):
    response = su.get(f"{API}/workspaces/acme/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


def test_page_and_page_size_bounds(openapi):
    from secretvault.api.pagination import VaultPagination

    lists = [
        o for m, p, o in operations(openapi) if "page_size" in {x["name"] for x in o.get("parameters", [])}
    ]
    assert len(lists) >= 6
    for operation in lists:
        parameters = {x["name"]: x["schema"] for x in operation["parameters"]}
        assert parameters["page_size"]["type"] == "integer"
        assert parameters["page_size"]["minimum"] == 1
        assert parameters["page_size"]["maximum"] == VaultPagination.max_page_size
        assert parameters["page"] == {"type": "integer", "minimum": 1}
        assert "400" in operation["responses"], operation["operationId"]


@pytest.mark.parametrize("url", ["", "acme/environments/", "acme/secrets/", "acme/tokens/", "acme/audit/"])
def test_every_list_refuses_a_bad_page_size(su, workspace, url):
    for bad in ("abc", "0", "-1", "501", "1.5", " 5"):
        response = su.get(f"{API}/workspaces/{url}", {"page_size": bad})
        assert response.status_code == 400, (url, bad)
        assert list(response.json()) == ["page_size"], (url, bad)
    assert su.get(f"{API}/workspaces/{url}", {"page_size": "500"}).status_code == 200


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("secrets/", "state"),
        ("secrets/", "token_type"),
        ("secrets/", "ordering"),
        ("secrets/", "expiring_within"),
        ("secrets/", "search"),
        ("tokens/", "state"),
        ("tokens/", "search"),
        ("audit/", "since"),
        ("audit/", "until"),
    ],
)
def test_an_empty_filter_is_refused_as_documented(openapi, su, workspace, url, name):
    operation = openapi["paths"][f"{API}/workspaces/{{ws}}/{url}"]["get"]
    schema = {x["name"]: x["schema"] for x in operation["parameters"]}[name]
    # The document admits no empty value: an enum, a minimum length or count, or a number.
    assert (
        "enum" in schema
        or schema.get("minLength") == 1
        or schema.get("minItems") == 1
        or "anyOf" in schema
        or schema.get("type") == "integer"
    ), schema
    response = su.get(f"{API}/workspaces/acme/{url}?{name}=")
    assert response.status_code == 400, response.content
    assert name in response.json()


def test_expiring_within_minimum(openapi, su, workspace):
    secrets = openapi["paths"][f"{API}/workspaces/{{ws}}/secrets/"]["get"]
    schema = {x["name"]: x["schema"] for x in secrets["parameters"]}["expiring_within"]
    assert schema["type"] == "integer" and schema["minimum"] == 0 and schema["maximum"] > 0
    for bad in ("-1", "abc", "1.0", " 5", "+5", str(schema["maximum"] + 1)):
        response = su.get(f"{API}/workspaces/acme/secrets/", {"expiring_within": bad})
        assert response.status_code == 400, bad
        assert "expiring_within" in response.json(), bad
    assert su.get(f"{API}/workspaces/acme/secrets/", {"expiring_within": "0"}).status_code == 200


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
