"""Issue #12's matrix through the API: principals × actions, every cell asserted.

Workspace ``acme`` holds ``G`` (global), ``D`` (dev) and ``P`` (prd), each at version 2.
A refused read of something out of reach is 404 with the body of a missing object.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from secretvault import services
from secretvault.models import WorkspaceMember
from tests.api.conftest import _client, basic, ws_url

pytestmark = pytest.mark.django_db

ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
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

ALL_OK = {
    "list": 200,
    "meta_prd": 200,
    "reveal_dev": 200,
    "reveal_prd": 200,
    "load_dev": 200,
    "create_global": 201,
    "create_dev": 201,
    "create_prd": 201,
    "update_dev": 200,
    "rollback_dev": 200,
    "revoke_dev": 200,
    "delete_dev": 204,
    "token_wider": 201,
    "member_admin": 201,
    "audit": 200,
}
READS = {"list": 200, "meta_prd": 200}
DEV_ONLY = {
    **dict.fromkeys(ALL_OK, 403),
    "list": 200,
    "meta_prd": 404,
    "reveal_dev": 200,
    "reveal_prd": 404,
    "load_dev": 200,
    "create_dev": 201,
    "update_dev": 200,
    "rollback_dev": 200,
    "revoke_dev": 200,
    "delete_dev": 204,
}
DEV_READ_TOKEN = {
    **DEV_ONLY,
    **dict.fromkeys(["create_dev", "update_dev", "rollback_dev", "revoke_dev", "delete_dev"], 403),
}

EXPECTED: dict[str, dict[str, int]] = {
    "superuser": ALL_OK,
    "global_view_secret": {**dict.fromkeys(ALL_OK, 403), **READS},
    "viewer": {**dict.fromkeys(ALL_OK, 403), **READS},
    "developer": {**ALL_OK, "token_wider": 403, "member_admin": 403, "audit": 403},
    "developer_dev": DEV_ONLY,
    "admin": ALL_OK,
    "group_developer_dev": DEV_ONLY,
    "non_member_staff": dict.fromkeys(ALL_OK, 404),
    "token_dev_read": DEV_READ_TOKEN,
    "token_dev_write": DEV_ONLY,
}


@pytest.fixture
def vault(workspace, other_workspace, dev, prd, make_secret, django_user_model):
    for key, envs in (("G", []), ("D", ["dev"]), ("P", ["prd"])):
        secret = make_secret(key, f"{key}-v1", envs=envs)
        services.set_value(secret, f"{key}-v2")
    django_user_model.objects.create_user("zed", password="pw")
    return workspace


def principal(name: str, workspace, django_user_model, make_token) -> Any:
    if name.startswith("token"):
        _token, raw = make_token(envs=["dev"], can_write=name.endswith("write"))
        return _client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    if name == "superuser":
        user = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    else:
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
    if name == "global_view_secret":
        user.user_permissions.add(Permission.objects.get(codename="view_secret"))
    role = {"viewer": "viewer", "developer": "developer", "developer_dev": "developer", "admin": "admin"}
    if name in role:
        row = WorkspaceMember.objects.create(workspace=workspace, user=user, role=role[name])
        if name == "developer_dev":
            row.envs.set(services.environments_by_slug(workspace, ["dev"]))
    if name == "group_developer_dev":
        group = Group.objects.create(name="devs")
        user.groups.add(group)
        row = WorkspaceMember.objects.create(workspace=workspace, group=group, role="developer")
        row.envs.set(services.environments_by_slug(workspace, ["dev"]))
    return _client(HTTP_AUTHORIZATION=basic(user.username))


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_matrix(vault, django_user_model, make_token, who, action):
    client = principal(who, vault, django_user_model, make_token)
    method, url, body = ACTIONS[action]
    response = getattr(client, method)(url, body) if body is not None else getattr(client, method)(url)
    expected = EXPECTED[who][action]
    assert response.status_code == expected, response.content
    text = response.content.decode()
    if expected == 404:
        assert response.json() == {"detail": "Not found."}  # the body of a missing object
    if expected >= 400:
        assert "-v1" not in text and "-v2" not in text
    if action == "list" and expected == 200:
        keys = {item["key"] for item in response.json()["results"]}
        assert keys == ({"G", "D"} if EXPECTED[who]["meta_prd"] == 404 else {"G", "D", "P"})
