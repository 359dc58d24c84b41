"""Issue #12's matrix through the API: principals × actions, every cell asserted.

The table is ``tests.access.matrix`` (shared with the admin's and the CLI's doors).
A refused read of something out of reach is 404 with the body of a missing object.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.access.matrix import ACTIONS, DENIED, EXPECTED, HIDDEN, OK, build_vault, make_person, sees_prd
from tests.api.conftest import _client, basic, ws_url

pytestmark = pytest.mark.django_db

REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "list": ("get", ws_url("acme", "secrets"), None),
    "meta_prd": ("get", ws_url("acme", "secrets", "P"), None),
    "reveal_dev": ("get", ws_url("acme", "secrets", "D", "reveal"), None),
    "reveal_prd": ("get", ws_url("acme", "secrets", "P", "reveal"), None),
    "load_dev": ("get", ws_url("acme", "load") + "?env=dev", None),
    "create_global": ("post", ws_url("acme", "secrets"), {"key": "N", "value": "n", "envs": []}),
    "create_dev": ("post", ws_url("acme", "secrets"), {"key": "N", "value": "n", "envs": ["dev"]}),
    "create_prd": ("post", ws_url("acme", "secrets"), {"key": "N", "value": "n", "envs": ["prd"]}),
    "update_dev": ("patch", ws_url("acme", "secrets", "D"), {"value": "new"}),
    "rollback_dev": ("post", ws_url("acme", "secrets", "D", "rollback"), {"version": 1}),
    "revoke_dev": ("post", ws_url("acme", "secrets", "D", "revoke"), None),
    "delete_dev": ("delete", ws_url("acme", "secrets", "D"), None),
    "token_wider": ("post", ws_url("acme", "tokens"), {"name": "t", "envs": []}),
    "member_admin": ("post", ws_url("acme", "members"), {"user": "zed", "role": "admin"}),
    "audit": ("get", ws_url("acme", "audit"), None),
}
assert set(REQUESTS) == set(ACTIONS)

#: What each outcome of the shared table is over HTTP, for a successful action.
SUCCESS = {
    **dict.fromkeys(["create_global", "create_dev", "create_prd", "token_wider", "member_admin"], 201),
    "delete_dev": 204,
}


def status(outcome: str, action: str) -> int:
    """The HTTP status ``outcome`` (``matrix.OK``/``DENIED``/``HIDDEN``) of ``action`` has."""
    return {OK: SUCCESS.get(action, 200), DENIED: 403, HIDDEN: 404}[outcome]


@pytest.fixture
def vault(workspace, other_workspace, dev, prd, make_secret, django_user_model):
    return build_vault(workspace, make_secret, django_user_model)


def principal(name: str, workspace, django_user_model, make_token) -> Any:
    if name.startswith("token"):
        _token, raw = make_token(envs=["dev"], can_write=name.endswith("write"))
        return _client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return _client(HTTP_AUTHORIZATION=basic(make_person(name, workspace, django_user_model).username))


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_matrix(vault, django_user_model, make_token, who, action):
    client = principal(who, vault, django_user_model, make_token)
    method, url, body = REQUESTS[action]
    response = getattr(client, method)(url, body) if body is not None else getattr(client, method)(url)
    expected = status(EXPECTED[who][action], action)
    assert response.status_code == expected, response.content
    text = response.content.decode()
    if expected == 404:
        assert response.json() == {"detail": "Not found."}  # the body of a missing object
    if expected >= 400:
        assert "-v1" not in text and "-v2" not in text
    if action == "list" and expected == 200:
        keys = {item["key"] for item in response.json()["results"]}
        assert keys == ({"G", "D", "P"} if sees_prd(who) else {"G", "D"})
