"""Issue #12's matrix through the Django admin: every person × action, every cell asserted.

The table is ``tests.access.matrix`` (shared with the API's and the CLI's doors); each
person logs into the admin with the test client and drives the action the way a browser
would (a GET of a page, a POST of a form, an action of a change list). How the admin
says each outcome (SPEC §4, §9):

- ``OK``: the page (200) or the redirect after a successful POST (302/303), the change
  made in the database; a reveal shows the value.
- ``DENIED``: the admin's own refusal, the object staying visible elsewhere. Mostly 403.
  Where the admin's natural refusal is not a 403 the test accepts it and says so:

  * ``create_*``: a user who may add secrets somewhere gets the add form back (200) with
    an error: for an environment outside their write reach (it is not even offered)
    "<id> is not an environment of workspace acme" (the form's "Select a valid choice",
    reworded; a ``dev``-only member does not see ``prd`` at all), for a global secret
    the reach rule's "can write only in some environments";
  * ``revoke_dev``: a person without ``change_secret`` is not offered the "Revoke
    selected secrets" action, so posting it re-renders the change list (200) unchanged.

- ``HIDDEN``: the answer is the answer for a *missing* object -- the same request with a
  random UUID (a secret, or a workspace for the list, the add forms and the audit
  trail) gets the same status, the same redirect and the same page, the id aside
  ("doesn't exist" redirect, or 403 for a person who reaches no workspace at all).

Every refused cell also checks that nothing changed in the database and that no
response holds a value (the values are ``G-v1`` … ``P-v2``; a reveal that is ``OK``
shows exactly the current value).

``load_dev`` has no admin door: the admin offers no "load" view, no export action and
no download of values (the only value the admin shows is one secret's, on its audited
reveal page, which ``reveal_dev`` covers). Those cells are skipped with that reason.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.models import AuditEvent, Secret, SecretVersion, ServiceToken, Workspace, WorkspaceMember
from tests.access.matrix import (
    ACTIONS,
    DENIED,
    EXPECTED,
    HIDDEN,
    OK,
    PEOPLE,
    build_vault,
    make_person,
    sees_prd,
)
from tests.admin_pages import TICKET

pytestmark = pytest.mark.django_db

NO_ADMIN_DOOR = {
    "load_dev": "the admin has no load door: no load view, export action or download of values "
    "(one value at a time on the audited reveal page only, covered by reveal_dev)"
}
VALUES = re.compile(r"[A-Z]*-v[12]")
ROW = re.compile(r"/(?:secret|auditevent)/[0-9a-f-]{36}/change/")
#: What differs between two renderings of one page: the CSRF token, the token form's one-time ticket.
NONCES = re.compile(r'name="(?:csrfmiddlewaretoken|_token_form_ticket)" value="[^"]*"')


def url(view: str, *args: Any) -> str:
    return reverse(f"admin:secretvault_{view}", args=args)


class Ids:
    """The objects an action is about: acme, its secrets ``D`` and ``P``, its environments, user zed."""

    def __init__(self, workspace: Workspace) -> None:
        secrets = {s.key: s for s in Secret.objects.filter(workspace=workspace)}
        envs = {e.slug: e for e in workspace.environments.all()}
        self.workspace = str(workspace.pk)
        self.secrets = {key: str(secret.pk) for key, secret in secrets.items()}
        self.envs = {slug: str(env.pk) for slug, env in envs.items()}
        self.zed = str(get_user_model().objects.get(username="zed").pk)

    def missing(self, action: str) -> tuple[Ids, str, str]:
        """A copy in which the object ``action`` is about is a random UUID: ``(copy, real, random)``."""
        twin = object.__new__(Ids)
        twin.__dict__.update({**self.__dict__, "secrets": dict(self.secrets)})
        fake = str(uuid.uuid4())
        if action in SECRET_ACTIONS:
            key = SECRET_ACTIONS[action]
            real = self.secrets[key]
            twin.secrets[key] = fake
        else:
            real = self.workspace
            twin.workspace = fake
        return twin, real, fake


CREATED_ENVS = {"create_global": [], "create_dev": ["dev"], "create_prd": ["prd"]}
#: The secret each secret-level action is about; the others are about the workspace.
SECRET_ACTIONS = {
    "meta_prd": "P",
    "reveal_dev": "D",
    "reveal_prd": "P",
    "update_dev": "D",
    "rollback_dev": "D",
    "revoke_dev": "D",
    "delete_dev": "D",
}


def _ticket(client: Client, workspace: str) -> str:
    """The token add form's one-time ticket, or a dummy when the form is refused."""
    page = client.get(url("servicetoken_add"), {"workspace": workspace}, follow=True)
    match = TICKET.search(page.content.decode())
    return match.group(1) if match else "no-ticket-offered"


def _create(action: str) -> Callable[[Client, Ids], Any]:
    def run(client: Client, ids: Ids) -> Any:
        data = {"workspace": ids.workspace, "key": "N", "value": "N-v1", "scope": "", "description": ""}
        data["token_type"] = ""
        data["environments"] = [ids.envs[slug] for slug in CREATED_ENVS[action]]
        return client.post(url("secret_add"), data)

    return run


def _update(client: Client, ids: Ids) -> Any:
    data = {"value": "N-v2", "expected_version": "2", "description": "", "token_type": "", "scope": ""}
    data["environments"] = [ids.envs["dev"]]
    return client.post(url("secret_change", ids.secrets["D"]), data)


def _token(client: Client, ids: Ids) -> Any:
    data = {"workspace": ids.workspace, "name": "wide", "description": "", "scope": "", "can_write": "on"}
    data["_token_form_ticket"] = _ticket(client, ids.workspace)
    return client.post(url("servicetoken_add"), data)  # no environments: every one


def _member(client: Client, ids: Ids) -> Any:
    data = {"workspace": ids.workspace, "user": "zed", "role": "admin"}
    return client.post(url("workspacemember_add"), data)


def _revoke(client: Client, ids: Ids) -> Any:
    data = {"action": "revoke_selected", "_selected_action": [ids.secrets["D"]], "index": "0"}
    return client.post(url("secret_changelist"), data)


REQUESTS: dict[str, Callable[[Client, Ids], Any]] = {
    "list": lambda c, ids: c.get(url("secret_changelist"), {"workspace__id__exact": ids.workspace}),
    "meta_prd": lambda c, ids: c.get(url("secret_change", ids.secrets["P"])),
    "reveal_dev": lambda c, ids: c.post(url("secret_reveal", ids.secrets["D"])),
    "reveal_prd": lambda c, ids: c.post(url("secret_reveal", ids.secrets["P"])),
    "create_global": _create("create_global"),
    "create_dev": _create("create_dev"),
    "create_prd": _create("create_prd"),
    "update_dev": _update,
    "rollback_dev": lambda c, ids: c.post(url("secret_rollback", ids.secrets["D"], 1)),
    "revoke_dev": _revoke,
    "delete_dev": lambda c, ids: c.post(url("secret_delete", ids.secrets["D"]), {"post": "yes"}),
    "token_wider": _token,
    "member_admin": _member,
    "audit": lambda c, ids: c.get(url("auditevent_changelist"), {"workspace__id__exact": ids.workspace}),
}
assert set(REQUESTS) | set(NO_ADMIN_DOOR) == set(ACTIONS)


def snapshot() -> dict[str, Any]:
    """Everything an action could change, the audit trail included (a refusal records nothing)."""
    return {
        "secrets": sorted(
            (s.key, s.workspace_id, s.current_version, s.revoked_at, tuple(s.env_slugs()))
            for s in Secret.objects.all()
        ),
        "versions": sorted(SecretVersion.objects.values_list("secret_id", "version", "action")),
        "tokens": sorted(ServiceToken.objects.values_list("pk", "revoked_at")),
        "audit": AuditEvent.objects.count(),
        "members": sorted((str(m.pk), m.role, tuple(m.env_slugs())) for m in WorkspaceMember.objects.all()),
    }


def answer(client: Client, action: str, ids: Ids, real: str = "", fake: str = "") -> tuple[Any, ...]:
    """``action``'s answer as a browser sees it, redirects followed, with ``real`` written as ``fake``."""
    response = REQUESTS[action](client, ids)
    chain = [(response.status_code, response.get("Location", ""))]
    while response.status_code in (301, 302, 303):
        response = client.get(response["Location"])
        chain.append((response.status_code, response.get("Location", "")))
    page = NONCES.sub("", response.content.decode())
    return tuple((status, where.replace(real, fake)) for status, where in chain), page.replace(real, fake)


@pytest.fixture
def vault(workspace, other_workspace, dev, prd, make_secret, django_user_model):
    build_vault(workspace, make_secret, django_user_model)
    # A secret of the other team: never on any page of anyone who is not superuser.
    make_secret("GLOBEX_ONLY", "globex-value", workspace=other_workspace)
    return workspace


def check_ok(who: str, action: str, response: Any, page: str, ids: Ids, before: dict[str, Any]) -> None:
    """The change ``action`` makes, made (or the page it shows, shown)."""
    status = response.status_code
    d = Secret.objects.filter(pk=ids.secrets["D"]).first()
    if action == "list":
        assert status == 200
        shown = {key for key, pk in ids.secrets.items() if f"/secret/{pk}/change/" in page}
        assert shown == ({"G", "D", "P"} if sees_prd(who) else {"G", "D"}), shown
        assert "GLOBEX_ONLY" not in page
    elif action == "meta_prd":
        assert status == 200 and f"/secret/{ids.secrets['P']}/history/" in page
    elif action in ("reveal_dev", "reveal_prd"):
        key = "D" if action == "reveal_dev" else "P"
        assert status == 200 and f"{key}-v2" in page
        assert f"{key}-v1" not in page
    elif action.startswith("create_"):
        assert status == 302, page[:3000]
        secret = Secret.objects.get(workspace_id=ids.workspace, key="N")
        assert (
            secret.env_slugs() == {"create_global": [], "create_dev": ["dev"], "create_prd": ["prd"]}[action]
        )
        assert services.reveal(secret) == "N-v1"
    elif action == "update_dev":
        assert status == 302, page[:3000]
        assert d is not None and d.current_version == 3 and services.reveal(d) == "N-v2"
    elif action == "rollback_dev":
        assert status == 302
        assert d is not None and d.current_version == 3 and services.reveal(d) == "D-v1"
    elif action == "revoke_dev":
        assert status == 302 and d is not None and d.revoked_at is not None
    elif action == "delete_dev":
        assert status == 302 and d is None
        assert Secret.objects.filter(workspace_id=ids.workspace).count() == 2
    elif action == "token_wider":
        assert status == 303, page[:3000]
        token = ServiceToken.objects.get(name="wide")
        assert str(token.workspace_id) == ids.workspace and token.env_slugs() == []
    elif action == "member_admin":
        assert status == 302, page[:3000]
        assert WorkspaceMember.objects.get(workspace_id=ids.workspace, user_id=ids.zed).role == "admin"
    elif action == "audit":
        assert status == 200
        events = AuditEvent.objects.filter(workspace_id=ids.workspace)
        assert events.exists()
        assert all(f"/auditevent/{pk}/change/" in page for pk in events.values_list("pk", flat=True)[:20])
        others = AuditEvent.objects.exclude(workspace_id=ids.workspace).values_list("pk", flat=True)
        assert others and not any(f"/auditevent/{pk}/change/" in page for pk in others)
    else:  # pragma: no cover - every action of REQUESTS is above
        raise AssertionError(action)
    if action in ("list", "meta_prd", "audit"):
        assert snapshot() == before


def check_denied(action: str, response: Any, page: str) -> None:
    """The admin's refusal of ``action``: 403, or the natural refusal the module doc lists."""
    status = response.status_code
    if action.startswith("create_") and status == 200:
        assert "errornote" in page, page[:3000]  # the form again, with its error
        refusals = ("Select a valid choice", "is not an environment of workspace", "can write only in some")
        assert any(refusal in page for refusal in refusals), page[:3000]
    elif action == "revoke_dev" and status == 200:
        assert 'value="revoke_selected"' not in page  # not offered to this person
    else:
        assert status == 403, (status, page[:2000])


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", sorted(PEOPLE))
def test_matrix_admin(vault, client, django_user_model, who, action):
    expected = EXPECTED[who][action]
    if action in NO_ADMIN_DOOR:
        pytest.skip(f"{action}: {NO_ADMIN_DOOR[action]}")
    client.force_login(make_person(who, vault, django_user_model))
    ids = Ids(vault)
    before = snapshot()
    response = REQUESTS[action](client, ids)
    page = response.content.decode()
    if expected == OK:
        check_ok(who, action, response, page, ids, before)
    else:
        assert snapshot() == before, f"{who}/{action}: refused, yet the database changed"
        if expected == DENIED:
            check_denied(action, response, page)
        else:
            assert expected == HIDDEN
            assert response.status_code in (302, 403, 404), response.status_code
            if response.status_code == 302:
                client.get(response["Location"])  # shows (and so clears) its "doesn't exist" message
            twin, real, fake = ids.missing(action)
            assert answer(client, action, ids, real, fake) == answer(client, action, twin)
            assert snapshot() == before
    revealed = {"reveal_dev": "D-v2", "reveal_prd": "P-v2"}.get(action) if expected == OK else None
    leaked = set(VALUES.findall(page)) - {revealed}
    assert not leaked, f"{who}/{action}: values on the page: {leaked}"
    assert "globex-value" not in page


def test_a_member_of_another_workspace_sees_no_row_of_acme(vault, client, django_user_model, other_workspace):
    """``HIDDEN`` lists for someone the admin does let in: acme's rows absent, like a missing workspace's."""
    user = django_user_model.objects.create_user("globexer", password="pw", is_staff=True)
    WorkspaceMember.objects.create(workspace=other_workspace, user=user, role="admin")
    client.force_login(user)
    ids = Ids(vault)
    for action in ("list", "audit"):
        twin, real, fake = ids.missing(action)
        response = REQUESTS[action](client, ids)
        page = response.content.decode()
        assert response.status_code == 200
        assert not any(pk in page for pk in ids.secrets.values()), action
        assert "acme" not in page and not VALUES.findall(page)
        assert not ROW.search(page), action  # no row at all: the filter applies, as for a missing one
        assert answer(client, action, ids, real, fake) == answer(client, action, twin)
    for action in ("meta_prd", "reveal_dev", "rollback_dev", "delete_dev", "create_dev", "token_wider"):
        before = snapshot()
        twin, real, fake = ids.missing(action)
        assert answer(client, action, ids, real, fake) == answer(client, action, twin), action
        assert snapshot() == before, action
