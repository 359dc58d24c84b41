"""The API refuses names with a trailing line break or blank (400), never trims them (SPEC §8).

Values and descriptions are stored exactly as sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from secretvault.models import Secret

SUFFIXES = ["\n", "\r\n", " ", "\t", "\r"]


API = "/api/v1/workspaces"


@pytest.fixture
def writer(token_client: Any, dev: Any) -> Any:
    return token_client(can_write=True)[1]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_api_refuses_a_key_with_a_trailing_line_break_or_blank(writer: Any, suffix: str) -> None:
    response = writer.post(f"{API}/acme/secrets/", {"key": "NL_KEY" + suffix, "value": "x"})
    assert response.status_code == 400, response.content
    assert "key" in response.json()
    assert not Secret.objects.exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_api_refuses_env_and_scope_names_with_a_trailing_line_break(writer: Any, suffix: str) -> None:
    for field, names in (("envs", ["dev" + suffix]), ("scope", ["web" + suffix])):
        response = writer.post(f"{API}/acme/secrets/", {"key": "K", "value": "x", field: names})
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()
    assert not Secret.objects.exists()


def test_api_refuses_a_renamed_key_with_a_trailing_newline(writer: Any, make_secret: Any) -> None:
    make_secret("K", "v")
    response = writer.patch(f"{API}/acme/secrets/K/", {"key": "K2\n"})
    assert response.status_code == 400, response.content
    assert list(Secret.objects.values_list("key", flat=True)) == ["K"]


def test_api_refuses_workspace_and_environment_slugs_with_a_trailing_newline(su: Any, workspace: Any) -> None:
    assert su.post(f"{API}/", {"slug": "nl\n"}).status_code == 400
    assert su.post(f"{API}/acme/environments/", {"slug": "stg\n"}).status_code == 400
    assert su.post(f"{API}/acme/environments/", {"slug": " stg"}).status_code == 400


def test_api_refuses_token_envs_and_scope_with_a_trailing_newline(su: Any, dev: Any) -> None:
    for field, names in (("envs", ["dev\n"]), ("scope", ["web\r\n"])):
        response = su.post(f"{API}/acme/tokens/", {"name": "t", field: names})
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()


@pytest.mark.parametrize("param", ["env", "scope"])
def test_api_query_names_with_a_trailing_newline_are_refused(writer: Any, param: str) -> None:
    name = {"env": "dev", "scope": "web"}[param]
    for path in ("secrets/", "load/"):
        response = writer.get(f"{API}/acme/{path}", {param: name + "\n"})
        assert response.status_code == 400, (path, response.content)
        assert writer.get(f"{API}/acme/{path}", {param: name}).status_code == 200


def test_api_stores_values_and_descriptions_untrimmed(writer: Any) -> None:
    value = "  padded\n\r\n\t "
    response = writer.post(
        f"{API}/acme/secrets/", {"key": "PAD", "value": value, "description": " d\n", "envs": ["dev"]}
    )
    assert response.status_code == 201, response.content
    assert response.json()["description"] == " d\n"
    assert writer.get(f"{API}/acme/secrets/PAD/reveal/").json()["value"] == value
