"""secretvault_client: values, errors, configuration; then against the live API and a scripted stub."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import socket
import stat
import threading
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from secretvault import services
from secretvault.models import AuditEvent, Secret
from secretvault_client import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    HTTPError,
    InvalidValueError,
    MissingSecretError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    SecretValue,
    SecretVaultClient,
    SecretVaultError,
    ServerError,
    ThrottledError,
    TransportError,
)
from secretvault_client.errors import error_for_status, summarise_body
from tests.client.conftest import DEV_SECRETS, PRD_SECRETS, Reply, Stub, Vault, load_reply

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)

# ------------------------------------------------------------------------------------------
# SecretValue


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" Yes ", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("OFF", False),
        ("0", False),
    ],
)
def test_to_bool_reads_the_usual_words(text: str, expected: bool) -> None:
    assert SecretValue("FLAG", text).to_bool() is expected


@pytest.mark.parametrize("text", ["", "maybe", "2", "yess", "t", "nope", "enabled"])
def test_to_bool_refuses_anything_else_naming_the_key_not_the_value(text: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        SecretValue("FLAG", text).to_bool()
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, SecretVaultError)
    assert error.key == "FLAG"
    assert str(error) == "Secret 'FLAG' is not a valid boolean (true/false, 1/0, yes/no, on/off)."


def test_numeric_and_json_accessors() -> None:
    assert SecretValue("N", " 42 ").to_int() == 42
    assert SecretValue("N", "-7").to_int() == -7
    assert SecretValue("F", "0.25").to_float() == 0.25
    assert SecretValue("F", "1e3").to_float() == 1000.0
    assert SecretValue("J", '{"a": [1, null, true]}').to_json() == {"a": [1, None, True]}
    assert SecretValue("J", '"text"').to_json() == "text"


@pytest.mark.parametrize(
    ("method", "text", "expected"),
    [
        ("to_int", "4.5", "integer"),
        ("to_int", "four", "integer"),
        ("to_int", "", "integer"),
        ("to_float", "fast", "finite number"),
        ("to_float", "nan", "finite number"),
        ("to_float", "inf", "finite number"),
        ("to_json", "{not json", "JSON document"),
        ("to_json", "", "JSON document"),
    ],
)
def test_typed_accessors_fail_clearly_without_the_value(method: str, text: str, expected: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        getattr(SecretValue("PORT_OR_SO", text), method)()
    assert str(caught.value) == f"Secret 'PORT_OR_SO' is not a valid {expected}."
    # No chained exception either: int()/json errors quote the text they could not read.
    assert caught.value.__context__ is None and caught.value.__cause__ is None


@given(KEYS, st.text())
def test_repr_never_shows_the_value(key: str, value: str) -> None:
    secret = SecretValue(key, value)
    assert repr(secret) == f"SecretValue({key!r}, <hidden>)"
    assert repr({key: secret}) == f"{{{key!r}: SecretValue({key!r}, <hidden>)}}"
    assert (
        repr(MappingProxyType({key: secret})) == f"mappingproxy({{{key!r}: SecretValue({key!r}, <hidden>)}})"
    )


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@given(KEYS, st.text())
def test_to_int_errors_never_hold_the_value(key: str, value: str) -> None:
    assume(_int_or_none(value) is None)
    with pytest.raises(InvalidValueError) as caught:
        SecretValue(key, value).to_int()
    assert str(caught.value) == f"Secret {key!r} is not a valid integer."


def test_secret_value_is_the_string_itself() -> None:
    secret = SecretValue("DB_URL", "postgres://u:pw@db/app")
    assert secret == "postgres://u:pw@db/app"
    assert str(secret) == "postgres://u:pw@db/app" and type(str(secret)) is str
    assert f"{secret}" == "postgres://u:pw@db/app"
    assert secret.key == "DB_URL"
    assert secret.startswith("postgres://")
    assert json.dumps({"url": secret}) == '{"url": "postgres://u:pw@db/app"}'


def test_secret_value_survives_pickle_and_copy() -> None:
    secret = SecretValue("DB_URL", "postgres://db/app")
    for clone in (pickle.loads(pickle.dumps(secret)), copy.copy(secret), copy.deepcopy(secret)):  # noqa: S301
        assert clone == "postgres://db/app" and clone.key == "DB_URL"
        assert repr(clone) == "SecretValue('DB_URL', <hidden>)"


def test_secret_value_refuses_a_non_string() -> None:
    with pytest.raises(TypeError, match="'N' must be a str"):
        SecretValue("N", 5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
        (418, HTTPError),
    ],
)
def test_error_for_status_picks_the_class(status: int, cls: type[HTTPError]) -> None:
    error = error_for_status(status, "Because.", method="GET", path="/api/v1/workspaces/acme/load/")
    assert type(error) is cls
    assert isinstance(error, HTTPError) and isinstance(error, SecretVaultError)
    assert error.status == status and error.detail == "Because."
    assert str(error) == f"HTTP {status} from GET /api/v1/workspaces/acme/load/: Because."


def test_error_hierarchy() -> None:
    for cls in (ConfigurationError, TransportError, ProtocolError, HTTPError, MissingSecretError):
        assert issubclass(cls, SecretVaultError)
    assert issubclass(MissingSecretError, LookupError)
    assert issubclass(InvalidValueError, ValueError)
    throttled = error_for_status(429, "Slow down.", retry_after=12.0)
    assert isinstance(throttled, ThrottledError) and throttled.retry_after == 12.0


def test_summarise_body() -> None:
    assert summarise_body({"detail": "Invalid token."}) == "Invalid token."
    assert (
        summarise_body({"value": ["Not a valid string."], "envs": ["Unknown environment(s): qa."]})
        == "value: Not a valid string.; envs: Unknown environment(s): qa."
    )
    assert summarise_body({"non_field_errors": {"inner": ["Bad."]}}) == "non_field_errors: inner: Bad."
    assert summarise_body(["One.", "Two."]) == "One.; Two."
    assert summarise_body(None) is None
    assert summarise_body({"detail": "x" * 2000}) == "x" * 499 + "…"


def test_missing_secret_error_names_key_workspace_and_env() -> None:
    assert str(MissingSecretError("DB_URL", workspace="acme", env="prd")) == (
        "Secret 'DB_URL' is not set in workspace 'acme', environment 'prd'."
    )
    assert "no environment set" in str(MissingSecretError("DB_URL", workspace="acme"))


# ------------------------------------------------------------------------------------------
# Configuration


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETVAULT_URL", "https://vault.example.com/api/v1")
    monkeypatch.setenv("SECRETVAULT_TOKEN", "svt_abc_def\n")
    monkeypatch.setenv("SECRETVAULT_WORKSPACE", "acme")
    monkeypatch.setenv("SECRETVAULT_ENV", "prd")
    monkeypatch.setenv("SECRETVAULT_SCOPE", "billing")
    client = SecretVaultClient()
    assert client.url == "https://vault.example.com/api/v1/"
    assert (client.workspace, client.env, client.scope) == ("acme", "prd", "billing")
    assert client.timeout == 5.0 and client.retries == 2
    assert client.fallback_file is None
    assert repr(client) == (
        "SecretVaultClient(url='https://vault.example.com/api/v1/', workspace='acme', env='prd', "
        "scope='billing', token=<hidden>)"
    )
    # Arguments win over the environment.
    other = SecretVaultClient(url="http://127.0.0.1:8000/api/v1/", workspace="globex", env="dev")
    assert (other.url, other.workspace, other.env) == ("http://127.0.0.1:8000/api/v1/", "globex", "dev")


@pytest.mark.parametrize(
    ("missing", "variable"), [("url", "SECRETVAULT_URL"), ("token", "SECRETVAULT_TOKEN")]
)
def test_missing_setting_is_a_configuration_error(missing: str, variable: str) -> None:
    settings = {"url": "http://127.0.0.1:8000/api/v1/", "token": "svt_id_secret", "workspace": "acme"}
    del settings[missing]
    with pytest.raises(ConfigurationError, match=variable):
        SecretVaultClient(**settings)


@pytest.mark.parametrize("workspace", [None, "", "  "])
def test_the_workspace_is_optional_and_nothing_is_asked_at_construction(
    workspace: str | None, http_requests: list[tuple[str, str]]
) -> None:
    client = SecretVaultClient(
        url="http://127.0.0.1:8000/api/v1/", token="svt_id_secret", workspace=workspace
    )
    assert client.workspace is None
    assert "workspace=None" in repr(client)
    assert http_requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://vault.example.com/", "http:// or https://"),
        ("vault.example.com/api/v1/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://user:pw@vault.example.com/api/v1/", "must not hold credentials"),
        ("https://vault.example.com/api/v1/?x=1", "query string"),
        ("https://vault.example.com:99999/api/v1/", "invalid port"),
    ],
)
def test_invalid_url(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        SecretVaultClient(url=url, token="svt_id_secret", workspace="acme")
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize("token", ["svt_id_s3 kr1t", "svt_id_s3kr1t\r\nX-Evil: 1", "svt_ïd_s3kr1t"])
def test_malformed_token_is_refused_without_quoting_it(token: str) -> None:
    with pytest.raises(ConfigurationError, match="holds characters a token never has") as caught:
        SecretVaultClient(url="http://127.0.0.1:8000/api/v1/", token=token, workspace="acme")
    assert "kr1t" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"cache_ttl": -1},
        {"retries": -1},
        {"retries": 1.5},
        {"backoff": -0.1},
    ],
)
def test_invalid_numbers(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SecretVaultClient(url="http://127.0.0.1:8000/api/v1/", token="svt_a_b", workspace="acme", **options)


# ------------------------------------------------------------------------------------------
# Against the live API


def load_events() -> int:
    return AuditEvent.objects.filter(action="secrets.load").count()


def test_load_returns_the_resolved_read_only_map(vault: Vault) -> None:
    client = vault.client()
    secrets = client.load()
    assert dict(secrets) == PRD_SECRETS
    assert client.last_load_source == "server"
    assert all(isinstance(value, SecretValue) and value.key == key for key, value in secrets.items())
    with pytest.raises(TypeError):
        secrets["API_KEY"] = "changed"  # type: ignore[index]
    assert "prd-api-key" not in repr(secrets)


def test_typed_accessors_on_loaded_values(vault: Vault) -> None:
    client = vault.client()
    assert client.get_required("WORKERS").to_int() == 4
    assert client.get_required("DEBUG").to_bool() is False
    assert client.get_required("RATIO").to_float() == 0.25
    assert client.get_required("FEATURES").to_json() == {"beta": True, "limits": [1, 2]}
    assert client.get("TRICKY") == PRD_SECRETS["TRICKY"]
    assert client.get("NOPE") is None
    assert client.get("NOPE", "fallback") == "fallback"
    with pytest.raises(MissingSecretError, match="'NOPE' is not set in workspace 'acme', environment 'prd'"):
        client.get_required("NOPE")
    with pytest.raises(InvalidValueError, match="'API_KEY' is not a valid integer"):
        client.get_required("API_KEY").to_int()


def test_environment_picks_the_override(vault: Vault) -> None:
    _, any_env = vault.make_token()
    assert dict(vault.client(any_env, env="dev").load()) == DEV_SECRETS
    assert vault.client(any_env, env=None).load()["API_KEY"] == "global-api-key"


def test_token_of_one_env_gets_it_without_asking(vault: Vault) -> None:
    client = vault.client(env=None)  # the read token reaches prd only
    assert dict(client.load()) == PRD_SECRETS
    with pytest.raises(MissingSecretError, match="'NOPE' is not set in workspace 'acme', environment 'prd'"):
        client.get_required("NOPE")


def test_cache_answers_within_the_ttl_without_a_request(
    vault: Vault, http_requests: list[tuple[str, str]]
) -> None:
    client = vault.client(cache_ttl=60)
    first = client.load()
    second = client.load()
    assert client.get_required("WORKERS") == "4"
    assert second is first
    assert client.last_load_source == "cache"
    assert len(http_requests) == 1
    assert http_requests[0] == ("GET", "/api/v1/workspaces/acme/load/?env=prd")
    assert load_events() == 1


def test_revalidation_after_the_ttl_gets_304_and_keeps_the_map(
    vault: Vault, http_requests: list[tuple[str, str]]
) -> None:
    client = vault.client(cache_ttl=0.2)
    first = client.load()
    assert client.load() is first and client.last_load_source == "cache"
    time.sleep(0.25)
    assert client.load() is first
    assert client.last_load_source == "revalidated"
    assert len(http_requests) == 2
    assert load_events() == 1  # a 304 decrypts and reveals nothing
    # The TTL restarted with the 304.
    assert client.load() is first and client.last_load_source == "cache"
    assert len(http_requests) == 2


def test_revalidation_sees_a_change_made_elsewhere(vault: Vault) -> None:
    client = vault.client(cache_ttl=0)
    assert client.load()["WORKERS"] == "4"
    assert client.load()["WORKERS"] == "4" and client.last_load_source == "revalidated"
    secret = Secret.objects.get(workspace=vault.workspace, key="WORKERS")
    services.update_secret(secret, value="8")
    assert client.load()["WORKERS"] == "8"
    assert client.last_load_source == "server"


def test_set_writes_a_new_version_and_clears_the_cache(vault: Vault) -> None:
    _, writer = vault.make_token(envs=["prd"], can_write=True)
    client = vault.client(writer, cache_ttl=3600)
    assert client.load()["WORKERS"] == "4"
    result = client.set("WORKERS", "16")
    assert result["key"] == "WORKERS" and result["version"] == 2 and "value" not in result
    assert client.load()["WORKERS"] == "16"
    assert client.last_load_source == "server"
    secret = Secret.objects.get(workspace=vault.workspace, key="WORKERS")
    assert secret.current_version == 2


def test_set_updates_the_secret_serving_the_env_not_the_global_one(vault: Vault) -> None:
    _, writer = vault.make_token(envs=["prd"], can_write=True)
    client = vault.client(writer)
    client.set("API_KEY", "rotated")
    assert client.load()["API_KEY"] == "rotated"
    global_key = Secret.objects.get(workspace=vault.workspace, key="API_KEY", envs__isnull=True)
    assert global_key.current_version == 1


def test_set_creates_a_missing_key_for_the_env(vault: Vault) -> None:
    _, writer = vault.make_token(envs=["prd"], can_write=True)
    client = vault.client(writer, cache_ttl=3600)
    client.load()
    result = client.set("NEW_KEY", "fresh", description="made by the client")
    assert result["envs"] == ["prd"] and result["version"] == 1
    assert client.get_required("NEW_KEY") == "fresh"
    created = Secret.objects.get(workspace=vault.workspace, key="NEW_KEY")
    assert created.description == "made by the client"


def test_set_with_a_stale_expected_version_is_a_conflict(vault: Vault) -> None:
    _, writer = vault.make_token(envs=["prd"], can_write=True)
    client = vault.client(writer)
    with pytest.raises(ConflictError) as caught:
        client.set("WORKERS", "32", expected_version=7)
    assert caught.value.status == 409
    assert "32" not in str(caught.value)
    assert client.load()["WORKERS"] == "4"


def test_revoked_token_is_401_on_the_next_load(vault: Vault) -> None:
    token, raw = vault.make_token(envs=["prd"])
    client = vault.client(raw, cache_ttl=0)
    client.load()
    services.revoke_token(token)
    with pytest.raises(AuthenticationError) as caught:
        client.load()
    assert caught.value.status == 401
    assert caught.value.detail
    assert raw not in str(caught.value) and raw.split("_")[-1] not in str(caught.value)


def test_token_without_can_write_gets_403_on_set(vault: Vault) -> None:
    client = vault.client()
    with pytest.raises(PermissionDeniedError) as caught:
        client.set("WORKERS", "99")
    assert caught.value.status == 403
    assert "99" not in str(caught.value)
    assert Secret.objects.get(workspace=vault.workspace, key="WORKERS").current_version == 1


def test_env_outside_the_token_is_403(vault: Vault) -> None:
    client = vault.client(env="dev")  # the token reaches prd only
    with pytest.raises(PermissionDeniedError) as caught:
        client.load()
    assert caught.value.status == 403 and "dev" in caught.value.detail


def test_other_workspace_is_404(vault: Vault, other_workspace: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        vault.client(workspace=other_workspace.slug).load()
    assert caught.value.status == 404


def test_unknown_env_is_a_400_naming_it(vault: Vault) -> None:
    _, any_env = vault.make_token()
    with pytest.raises(BadRequestError, match="env: .*'qa'"):
        vault.client(any_env, env="qa").load()


def test_with_only_url_and_token_the_token_s_workspace_is_discovered_once(
    vault: Vault,
    other_workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
    http_requests: list[tuple[str, str]],
) -> None:
    monkeypatch.setenv("SECRETVAULT_URL", vault.url)
    monkeypatch.setenv("SECRETVAULT_TOKEN", vault.read_token)
    client = SecretVaultClient(cache_ttl=0)  # no workspace, no env: the token's own (prd only)
    assert client.workspace is None and http_requests == []
    assert dict(client.load()) == PRD_SECRETS
    assert client.workspace == "acme"
    assert client.last_load_source == "server"
    assert client.load()["WORKERS"] == "4" and client.last_load_source == "revalidated"
    with pytest.raises(MissingSecretError, match="'NOPE' is not set in workspace 'acme', environment 'prd'"):
        client.get_required("NOPE")
    assert http_requests == [
        ("GET", "/api/v1/workspaces/"),
        ("GET", "/api/v1/workspaces/acme/load/"),
        ("GET", "/api/v1/workspaces/acme/load/"),
        ("GET", "/api/v1/workspaces/acme/load/"),
    ]


def test_a_token_of_the_other_workspace_discovers_that_one(vault: Vault, other_workspace: Any) -> None:
    services.create_environment(other_workspace, slug="prd", name="Production")
    services.create_secret(other_workspace, key="GLOBEX_ONLY", value="g", envs=["prd"])
    _, raw = vault.make_token(workspace=other_workspace)
    client = SecretVaultClient(url=vault.url, token=raw, env="prd")
    assert dict(client.load()) == {"GLOBEX_ONLY": "g"}
    assert client.workspace == "globex"


def test_set_discovers_the_workspace_too(vault: Vault, http_requests: list[tuple[str, str]]) -> None:
    _, writer = vault.make_token(envs=["prd"], can_write=True)
    client = SecretVaultClient(url=vault.url, token=writer, env="prd")
    assert client.set("WORKERS", "12")["version"] == 2
    assert client.load()["WORKERS"] == "12"
    assert http_requests == [
        ("GET", "/api/v1/workspaces/"),
        ("PATCH", "/api/v1/workspaces/acme/secrets/WORKERS/?env=prd"),
        ("GET", "/api/v1/workspaces/acme/load/?env=prd"),
    ]


def test_discovery_with_a_revoked_token_is_401(vault: Vault, http_requests: list[tuple[str, str]]) -> None:
    token, raw = vault.make_token(envs=["prd"])
    services.revoke_token(token)
    client = SecretVaultClient(url=vault.url, token=raw, retries=2, backoff=0.01)
    with pytest.raises(AuthenticationError) as caught:
        client.load()
    assert caught.value.status == 401 and caught.value.path == "/api/v1/workspaces/"
    assert raw.split("_")[-1] not in str(caught.value)
    assert http_requests == [("GET", "/api/v1/workspaces/")]  # a 4xx is final
    assert client.workspace is None


def test_fallback_file_is_written_0600_and_not_used_while_the_server_answers(
    vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "vault-cache.json"
    client = vault.client(fallback_file=path, cache_ttl=0)
    client.load()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["secrets"] == PRD_SECRETS
    assert (document["workspace"], document["env"]) == ("acme", "prd")
    assert sorted(os.listdir(tmp_path)) == ["vault-cache.json"]  # no temporary file left behind
    client.load()
    assert client.last_load_source == "revalidated"


def test_no_file_is_written_unless_asked(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    client = vault.client()
    client.load()
    assert client.fallback_file is None
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------
# Retries, timeouts, fallback: against a scripted server on the loopback interface


def stub_client(stub: Stub, **kwargs: Any) -> SecretVaultClient:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("env", "prd")
    kwargs.setdefault("workspace", "acme")
    return SecretVaultClient(url=stub.url, token="svt_stubid_stubsecret", **kwargs)


def workspaces_reply(*slugs: str) -> Reply:
    """The API's paginated workspace list, as WorkspaceSerializer writes it."""
    results = [
        {"id": index, "slug": slug, "name": slug.title(), "created_at": "2025-01-01T00:00:00Z"}
        for index, slug in enumerate(slugs, 1)
    ]
    return Reply(200, {"count": len(slugs), "next": None, "previous": None, "results": results})


@pytest.mark.parametrize(
    ("slugs", "message"),
    [
        ((), "the token sees none at http://127.0.0.1:"),
        (("acme", "globex"), "the token sees 2 workspaces ('acme', 'globex')"),
    ],
)
def test_discovery_needs_exactly_one_workspace(stub: Stub, slugs: tuple[str, ...], message: str) -> None:
    stub.script(workspaces_reply(*slugs))
    client = stub_client(stub, workspace=None)
    with pytest.raises(ConfigurationError, match="set SECRETVAULT_WORKSPACE") as caught:
        client.load()
    assert message in str(caught.value)
    assert [seen.path for seen in stub.seen] == ["/api/v1/workspaces/"]  # no load without a workspace
    assert stub.seen[0].headers["Authorization"] == "Bearer svt_stubid_stubsecret"
    assert client.workspace is None
    with pytest.raises(ConfigurationError, match="SECRETVAULT_WORKSPACE"):
        client.set("A", "v")
    assert [seen.method for seen in stub.seen] == ["GET", "GET"]


def test_discovery_counts_beyond_the_first_page(stub: Stub) -> None:
    reply = workspaces_reply(*(f"ws-{number}" for number in range(50)))
    reply.body["count"] = 120
    stub.script(reply)
    with pytest.raises(ConfigurationError, match=r"sees 120 workspaces \('ws-0', .*'ws-4', \.\.\.\)"):
        stub_client(stub, workspace=None).resolve_workspace()


def test_discovery_is_retried_like_a_read(stub: Stub) -> None:
    stub.script(Reply(503), workspaces_reply("acme"), load_reply({"A": "1"}))
    client = stub_client(stub, workspace=None, retries=1)
    assert client.load()["A"] == "1"
    assert [seen.path for seen in stub.seen] == [
        "/api/v1/workspaces/",
        "/api/v1/workspaces/",
        "/api/v1/workspaces/acme/load/?env=prd",
    ]


def test_discovery_5xx_after_the_retries_is_a_server_error(stub: Stub) -> None:
    stub.script(Reply(502))
    with pytest.raises(ServerError):
        stub_client(stub, workspace=None, retries=1).load()
    assert len(stub.seen) == 2


def test_a_404_that_is_not_the_apis_points_at_the_url(stub: Stub) -> None:
    # A project's own 404 page (HTML): SECRETVAULT_URL without the API's prefix.
    stub.script(Reply(404, b"<html>Not Found</html>"))
    with pytest.raises(NotFoundError, match=r"does SECRETVAULT_URL end with its prefix, e\.g\. /api/v1/"):
        stub_client(stub).load()
    stub.script(Reply(404, {"detail": "Not found."}))
    with pytest.raises(NotFoundError) as caught:
        stub_client(stub).load()
    assert "prefix" not in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>login page</html>"),
        Reply(200, {"detail": "hello"}),
        Reply(200, {"count": 1, "results": [{"name": "no slug"}]}),
        Reply(200, {"count": 1, "results": [{"slug": 7}]}),
    ],
)
def test_a_workspace_list_that_is_not_the_api_is_a_protocol_error(stub: Stub, reply: Reply) -> None:
    stub.script(reply)
    with pytest.raises(ProtocolError):
        stub_client(stub, workspace=None).load()


def test_concurrent_first_uses_discover_once(stub: Stub) -> None:
    reply = workspaces_reply("acme")
    reply.delay = 0.3  # every thread arrives while the one request is in flight
    stub.script(reply)
    client = stub_client(stub, workspace=None)
    found: list[str] = []
    threads = [threading.Thread(target=lambda: found.append(client.resolve_workspace())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert found == ["acme"] * 8
    assert len(stub.seen) == 1


def test_request_carries_the_token_and_the_etag(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}, etag='"abc"'), Reply(304, headers={"ETag": '"abc"'}))
    client = stub_client(stub, cache_ttl=0, scope="billing")
    assert client.load()["A"] == "1"
    assert client.load()["A"] == "1" and client.last_load_source == "revalidated"
    first, second = stub.seen
    assert first.path == "/api/v1/workspaces/acme/load/?env=prd&scope=billing"
    assert first.headers["Authorization"] == "Bearer svt_stubid_stubsecret"
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == '"abc"'


def test_5xx_is_retried_with_backoff(stub: Stub) -> None:
    stub.script(Reply(503), Reply(502, b"<html>bad gateway</html>"), load_reply({"A": "1"}))
    client = stub_client(stub, retries=2, backoff=0.05)
    started = time.monotonic()
    assert client.load()["A"] == "1"
    assert time.monotonic() - started >= 0.05 + 0.1
    assert len(stub.seen) == 3


def test_5xx_after_the_retries_is_a_server_error(stub: Stub) -> None:
    stub.script(Reply(503, {"detail": "Key store unavailable."}))
    with pytest.raises(ServerError) as caught:
        stub_client(stub, retries=1).load()
    assert caught.value.status == 503 and caught.value.detail == "Key store unavailable."
    assert len(stub.seen) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429])
def test_4xx_is_not_retried(stub: Stub, status: int) -> None:
    stub.script(Reply(status, {"detail": "No."}, {"Retry-After": "3"}))
    with pytest.raises(HTTPError) as caught:
        stub_client(stub, retries=2).load()
    assert caught.value.status == status
    assert len(stub.seen) == 1
    if status == 429:
        assert isinstance(caught.value, ThrottledError) and caught.value.retry_after == 3.0


def test_writes_are_not_retried_after_a_500(stub: Stub) -> None:
    stub.script(Reply(500))
    with pytest.raises(ServerError):
        stub_client(stub, retries=2).set("A", "new")
    assert [seen.method for seen in stub.seen] == ["PATCH"]


def test_set_falls_back_to_create_on_404(stub: Stub) -> None:
    stub.script(Reply(404, {"detail": "Not found."}), Reply(201, {"key": "A", "version": 1}))
    result = stub_client(stub).set("A", "new", scope=["billing"], token_type="api")
    assert result == {"key": "A", "version": 1}
    patch, post = stub.seen
    assert (patch.method, patch.path) == ("PATCH", "/api/v1/workspaces/acme/secrets/A/?env=prd")
    assert json.loads(patch.body) == {"value": "new"}
    assert (post.method, post.path) == ("POST", "/api/v1/workspaces/acme/secrets/")
    assert json.loads(post.body) == {
        "key": "A",
        "value": "new",
        "envs": ["prd"],
        "scope": ["billing"],
        "token_type": "api",
    }
    assert post.headers["Content-Type"] == "application/json"


def test_path_segments_are_quoted(stub: Stub) -> None:
    stub.script(Reply(200, {"key": "x"}))
    SecretVaultClient(url=stub.url, token="svt_a_b", workspace="ac/../me").set("../../x", "v")
    assert stub.seen[0].path == "/api/v1/workspaces/ac%2F..%2Fme/secrets/..%2F..%2Fx/"


def test_connection_refused_is_a_transport_error_after_the_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SecretVaultClient(
        url=f"http://127.0.0.1:{port}/api/v1/", token="svt_a_b", workspace="acme", retries=2, backoff=0.05
    )
    started = time.monotonic()
    with pytest.raises(TransportError, match="Cannot connect") as caught:
        client.load()
    assert time.monotonic() - started >= 0.05 + 0.1
    assert "svt_a_b" not in str(caught.value)


def test_timeout(stub: Stub) -> None:
    stub.script(Reply(200, {"secrets": {}}, delay=2.0))
    client = stub_client(stub, timeout=0.2, retries=0)
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out"):
        client.load()
    assert time.monotonic() - started < 1.5


def test_the_timeout_covers_the_retries_too(stub: Stub) -> None:
    """``timeout`` bounds the whole call: a slow first attempt leaves no time for a second."""
    stub.script(Reply(200, {"secrets": {}}, delay=1.0), load_reply({"A": "1"}))
    client = stub_client(stub, timeout=0.2, retries=1)
    with pytest.raises(TransportError, match=r"timed out: no complete answer within 0.2 s"):
        client.load()
    time.sleep(0.5)  # let a loaded stub record what it received
    assert len(stub.seen) <= 1  # never a second attempt


def test_redirect_is_not_followed(stub: Stub) -> None:
    stub.script(Reply(302, headers={"Location": "http://elsewhere.invalid/steal/"}))
    with pytest.raises(HTTPError, match="redirect not followed") as caught:
        stub_client(stub).load()
    assert caught.value.status == 302
    assert len(stub.seen) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>login page</html>"),
        Reply(200, {"secrets": {"A": 1}}),
        Reply(200, {"workspace": "acme"}),
    ],
)
def test_an_answer_that_is_not_the_api_is_a_protocol_error(stub: Stub, reply: Reply) -> None:
    stub.script(reply)
    with pytest.raises(ProtocolError):
        stub_client(stub).load()


def test_field_errors_are_summarised(stub: Stub) -> None:
    stub.script(Reply(400, {"value": ["Not a valid string."]}))
    with pytest.raises(BadRequestError) as caught:
        stub_client(stub).set("A", "v")
    assert caught.value.detail == "value: Not a valid string."


def test_fallback_file_serves_when_the_server_fails(stub: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    stub.script(load_reply({"A": "1", "B": "two"}), Reply(503))
    client = stub_client(stub, fallback_file=str(path), cache_ttl=0, retries=1)
    client.load()
    assert client.last_load_source == "server"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    fresh = stub_client(stub, fallback_file=path, cache_ttl=60, retries=1)
    secrets = fresh.load()
    assert dict(secrets) == {"A": "1", "B": "two"}
    assert isinstance(secrets["A"], SecretValue)
    assert fresh.last_load_source == "fallback"
    assert len(stub.seen) == 3  # one load, then the first try and one retry
    # Kept for the TTL, still reported as coming from the fallback.
    assert fresh.load() is secrets and fresh.last_load_source == "fallback"


def test_fallback_file_replaces_the_previous_copy(stub: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    path.write_text("old")
    path.chmod(0o644)
    stub.script(load_reply({"A": "1"}, etag='"1"'), load_reply({"A": "2"}, etag='"2"'))
    client = stub_client(stub, fallback_file=path, cache_ttl=0)
    client.load()
    client.load()
    assert json.loads(path.read_text())["secrets"] == {"A": "2"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_fallback_is_not_used_for_a_revoked_token(stub: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    stub.script(load_reply({"A": "1"}), Reply(401, {"detail": "Token revoked."}))
    client = stub_client(stub, fallback_file=path, cache_ttl=0)
    client.load()
    with pytest.raises(AuthenticationError):
        client.load()
    assert path.exists()


def test_fallback_of_another_workspace_or_env_is_ignored(stub: Stub, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    stub.script(load_reply({"A": "1"}), Reply(503))
    stub_client(stub, fallback_file=path).load()
    with pytest.raises(ServerError):
        stub_client(stub, fallback_file=path, env="dev", retries=0).load()


def test_fallback_needs_the_workspace_known(
    stub: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.json"
    stub.script(workspaces_reply("acme"), load_reply({"A": "1"}), Reply(503))
    discovering = stub_client(stub, workspace=None, fallback_file=path, cache_ttl=0, retries=0)
    assert discovering.load()["A"] == "1"
    assert json.loads(path.read_text())["workspace"] == "acme"  # keyed on the discovered workspace
    # Once discovered, the workspace is known: the file serves while the server fails.
    assert discovering.load()["A"] == "1" and discovering.last_load_source == "fallback"
    # A client set up the same way, still to discover its workspace: the file cannot be matched.
    fresh = stub_client(stub, workspace=None, fallback_file=path, retries=0)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"), pytest.raises(ServerError):
        fresh.load()
    assert "cannot be matched; set SECRETVAULT_WORKSPACE" in caplog.text
    # Naming the workspace is the remedy.
    assert stub_client(stub, fallback_file=path, retries=0).load()["A"] == "1"


def test_unreachable_server_and_unknown_workspace_is_a_transport_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "fallback.json"
    url = f"http://127.0.0.1:{port}/api/v1/"
    path.write_text(
        json.dumps(
            {"format": 1, "url": url, "workspace": "acme", "env": None, "scope": None, "secrets": {}}
            | {"saved_at": int(time.time())}
        )
    )
    client = SecretVaultClient(url=url, token="svt_a_b", fallback_file=path, retries=0)
    with pytest.raises(TransportError, match="Cannot connect"):
        client.load()
    assert client.workspace is None
    named = SecretVaultClient(url=url, token="svt_a_b", workspace="acme", fallback_file=path, retries=0)
    assert dict(named.load()) == {} and named.last_load_source == "fallback"


def test_no_fallback_file_means_the_error_is_raised(stub: Stub, tmp_path: Path) -> None:
    stub.script(Reply(503))
    with pytest.raises(ServerError):
        stub_client(stub, fallback_file=tmp_path / "never-written.json", retries=0).load()


def test_unwritable_fallback_file_does_not_fail_the_load(
    stub: Stub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stub.script(load_reply({"A": "secret-value-1"}))
    client = stub_client(stub, fallback_file=tmp_path / "missing-dir" / "fallback.json")
    with caplog.at_level(logging.WARNING, logger="secretvault.client"):
        assert client.load()["A"] == "secret-value-1"
    assert "could not write the fallback file" in caplog.text
    assert "secret-value-1" not in caplog.text


def test_log_lines_hold_neither_values_nor_the_token(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    stub.script(Reply(503), load_reply({"A": "secret-value-1"}))
    with caplog.at_level(logging.DEBUG, logger="secretvault.client"):
        stub_client(stub, retries=1).load()
    assert "retry 1 of 1" in caplog.text
    assert "secret-value-1" not in caplog.text and "stubsecret" not in caplog.text
