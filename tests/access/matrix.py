"""Issue #12's matrix, shared by its three doors: principals × actions → outcome.

Workspace ``acme`` holds ``G`` (global), ``D`` (dev) and ``P`` (prd), each at version 2;
``globex`` is another team's workspace. Each door (``test_matrix.py`` for the API,
``test_matrix_admin.py`` for the admin, ``test_matrix_cli.py`` for the command line with
``--actor``) drives the same actions as the same principals and maps the outcome to its
own terms:

- ``OK``: done (API 2xx; admin page or redirect with the change made; CLI exit 0);
- ``DENIED``: refused, the object stays visible (API 403; admin 403; CLI exit 1 with a
  permission message), nothing changed;
- ``HIDDEN``: refused as though the object did not exist (API 404 with the body of a
  missing object; admin 404 / absent from the list; CLI exit 1 with the "not found"
  message of a missing key), nothing changed, no value leaked.
"""

from __future__ import annotations

from typing import Any, Final

from django.contrib.auth.models import Group, Permission

from secretvault import services
from secretvault.models import Workspace, WorkspaceMember

OK: Final = "ok"
DENIED: Final = "denied"
HIDDEN: Final = "hidden"

#: Every action of the matrix, in the issue's words.
ACTIONS: Final = (
    "list",  # list the secrets of acme (metadata only)
    "meta_prd",  # metadata of P, a prd secret
    "reveal_dev",  # the value of D
    "reveal_prd",  # the value of P
    "load_dev",  # everything dev resolves to
    "create_global",  # a new secret N with envs []
    "create_dev",  # a new secret N with envs [dev]
    "create_prd",  # a new secret N with envs [prd]
    "update_dev",  # a new value for D
    "rollback_dev",  # D back to version 1
    "revoke_dev",  # revoke D
    "delete_dev",  # delete D
    "token_wider",  # a service token over every environment
    "member_admin",  # make user zed an admin of acme
    "audit",  # read acme's audit trail
)

ALL_OK: Final = dict.fromkeys(ACTIONS, OK)
_READS = {"list": OK, "meta_prd": OK}
DEV_ONLY: Final = {
    **dict.fromkeys(ACTIONS, DENIED),
    "list": OK,
    "meta_prd": HIDDEN,
    "reveal_dev": OK,
    "reveal_prd": HIDDEN,
    "load_dev": OK,
    "create_dev": OK,
    "update_dev": OK,
    "rollback_dev": OK,
    "revoke_dev": OK,
    "delete_dev": OK,
}
_WRITES_DEV = ("create_dev", "update_dev", "rollback_dev", "revoke_dev", "delete_dev")

#: principal → action → outcome. Principals starting with ``token`` are service tokens
#: (the API's door only); every other one is a Django user.
EXPECTED: Final[dict[str, dict[str, str]]] = {
    "superuser": ALL_OK,
    "global_view_secret": {**dict.fromkeys(ACTIONS, DENIED), **_READS},
    "viewer": {**dict.fromkeys(ACTIONS, DENIED), **_READS},
    "developer": {**ALL_OK, "token_wider": DENIED, "member_admin": DENIED, "audit": DENIED},
    "developer_dev": DEV_ONLY,
    "admin": ALL_OK,
    "group_developer_dev": DEV_ONLY,
    "non_member_staff": dict.fromkeys(ACTIONS, HIDDEN),
    "token_dev_read": {**DEV_ONLY, **dict.fromkeys(_WRITES_DEV, DENIED)},
    "token_dev_write": DEV_ONLY,
}

PEOPLE: Final = tuple(name for name in EXPECTED if not name.startswith("token"))

_ROLES = {"viewer": "viewer", "developer": "developer", "developer_dev": "developer", "admin": "admin"}


def build_vault(workspace: Workspace, make_secret: Any, django_user_model: Any) -> Workspace:
    """Fill ``acme`` (``workspace``) with ``G``, ``D``, ``P`` at version 2 and create user ``zed``.

    The callers' fixtures must also have created ``globex`` and the ``dev``/``prd``
    environments (``other_workspace``, ``dev``, ``prd``).
    """
    for key, envs in (("G", []), ("D", ["dev"]), ("P", ["prd"])):
        secret = make_secret(key, f"{key}-v1", envs=envs)
        services.set_value(secret, f"{key}-v2")
    django_user_model.objects.create_user("zed", password="pw")
    return workspace


def make_person(name: str, workspace: Workspace, django_user_model: Any) -> Any:
    """The Django user standing for principal ``name`` (one of ``PEOPLE``), staff, password ``pw``."""
    if name == "superuser":
        return django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
    if name == "global_view_secret":
        user.user_permissions.add(Permission.objects.get(codename="view_secret"))
    if name in _ROLES:
        row = WorkspaceMember.objects.create(workspace=workspace, user=user, role=_ROLES[name])
        if name == "developer_dev":
            row.envs.set(services.environments_by_slug(workspace, ["dev"]))
    if name == "group_developer_dev":
        group = Group.objects.create(name="devs")
        user.groups.add(group)
        row = WorkspaceMember.objects.create(workspace=workspace, group=group, role="developer")
        row.envs.set(services.environments_by_slug(workspace, ["dev"]))
    return user


def sees_prd(principal: str) -> bool:
    """Whether ``principal``'s list of acme's secrets includes ``P``."""
    return EXPECTED[principal]["meta_prd"] == OK
