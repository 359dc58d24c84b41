"""Issue #12's matrix through the command line: ``--actor USERNAME`` × action, every cell asserted.

The table is ``tests.access.matrix`` (shared with the API's and the admin's doors); its
people are Django users, named with ``--actor`` (service tokens are no CLI principal).
What an outcome is here:

- ``OK``: exit 0, and the change made (or the right data printed);
- ``DENIED``: exit 1, one error line that is a permission message, nothing changed;
- ``HIDDEN``: exit 1, the error line of a missing key (or, for someone who does not
  reach ``acme`` at all, of an unknown workspace) with only the name differing, nothing
  changed.

No value (``-v1``/``-v2``) appears in the output of a refused command, nor of one that
shows metadata. Every event a successful command writes to the audit trail names the actor.
A superuser (``--actor boss``) may do everything, as in the API.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from secretvault import services
from secretvault.models import (
    AuditEvent,
    Environment,
    Secret,
    SecretVersion,
    ServiceToken,
    Workspace,
    WorkspaceMember,
)
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
from tests.test_command import Cli, Result, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

#: action → the command line that performs it (``--actor`` is added per person).
COMMANDS: dict[str, tuple[str, ...]] = {
    "list": ("list", "-w", "acme", "--json"),
    "meta_prd": ("get", "P", "-w", "acme"),
    "reveal_dev": ("reveal", "D", "-w", "acme"),
    "reveal_prd": ("reveal", "P", "-w", "acme"),
    "load_dev": ("export", "-w", "acme", "--env", "dev"),
    "create_global": ("set", "N", "n", "-w", "acme"),
    "create_dev": ("set", "N", "n", "-w", "acme", "--env", "dev"),
    "create_prd": ("set", "N", "n", "-w", "acme", "--env", "prd"),
    "update_dev": ("set", "D", "new", "-w", "acme", "--env", "dev"),
    "rollback_dev": ("rollback", "D", "1", "-w", "acme"),
    "revoke_dev": ("revoke", "D", "-w", "acme"),
    "delete_dev": ("delete", "D", "-w", "acme", "--yes"),
    "token_wider": ("token", "create", "-w", "acme", "--name", "t"),
    "member_admin": ("member", "add", "-w", "acme", "--user", "zed", "--role", "admin"),
    "audit": ("audit", "verify", "-w", "acme"),
}
assert set(COMMANDS) == set(ACTIONS)

#: The key each action names, for its "missing key" twin.
KEYS = {"meta_prd": "P", "reveal_dev": "D", "reveal_prd": "P", "update_dev": "D"} | dict.fromkeys(
    ["rollback_dev", "revoke_dev", "delete_dev"], "D"
)
#: Actions whose successful output is a value.
VALUE_READS = {"reveal_dev", "reveal_prd", "load_dev"}
#: The one error line of an ``AccessDeniedError`` refusing a person (``secretvault.access``,
#: ``secretvault.members``): "You do not have permission ...", "You cannot reach ...", ...
PERMISSION_MESSAGE = re.compile(r"secretvault: error: You (do not have permission|cannot|can write only) ")


@pytest.fixture
def vault(workspace, other_workspace, dev, prd, make_secret, django_user_model):
    return build_vault(workspace, make_secret, django_user_model)


def state() -> tuple[Any, ...]:
    """Everything a command of the matrix could change, comparable with ``==``."""
    secrets = Secret.objects.select_related("workspace").prefetch_related("envs")
    return (
        sorted(
            (s.workspace.slug, s.key, tuple(s.env_slugs()), s.current_version, s.revoked_at is not None)
            for s in secrets
        ),
        SecretVersion.objects.count(),
        Workspace.objects.count(),
        Environment.objects.count(),
        sorted(ServiceToken.objects.values_list("name", "revoked_at")),
        sorted(
            WorkspaceMember.objects.values_list("workspace__slug", "user__username", "group__name", "role"),
            key=str,
        ),
        AuditEvent.objects.count(),
    )


def secret(key: str) -> Secret:
    return Secret.objects.get(workspace__slug="acme", key=key)


def value(key: str) -> str:
    return services.reveal(secret(key))


def assert_done(action: str, who: str, result: Result) -> None:
    """The change ``action`` makes, or the data it prints, is there."""
    if action == "list":
        keys = {item["key"] for item in json.loads(result.out)}
        assert keys == ({"G", "D", "P"} if sees_prd(who) else {"G", "D"})
    elif action == "meta_prd":
        assert re.search(r"^key +P$", result.out, re.M) and re.search(r"^envs +prd$", result.out, re.M)
    elif action in ("reveal_dev", "reveal_prd"):
        assert result.out == f"{KEYS[action]}-v2\n"
    elif action == "load_dev":
        assert "D-v2" in result.out and "G-v2" in result.out and "P-v" not in result.out
    elif action.startswith("create_"):
        envs = {"create_global": [], "create_dev": ["dev"], "create_prd": ["prd"]}[action]
        assert secret("N").env_slugs() == envs and value("N") == "n"
    elif action == "update_dev":
        assert secret("D").current_version == 3 and value("D") == "new"
    elif action == "rollback_dev":
        assert secret("D").current_version == 3 and value("D") == "D-v1"
    elif action == "revoke_dev":
        assert secret("D").is_revoked
    elif action == "delete_dev":
        assert not Secret.objects.filter(workspace__slug="acme", key="D").exists()
    elif action == "token_wider":
        token = ServiceToken.objects.get(workspace__slug="acme", name="t")
        assert token.env_slugs() == []
    elif action == "member_admin":
        assert WorkspaceMember.objects.get(workspace__slug="acme", user__username="zed").role == "admin"
    elif action == "audit":
        assert result.out.startswith("Audit chain of acme verified:")
    else:  # pragma: no cover (the table and this function name the same actions)
        raise AssertionError(action)


def missing_twin(run: Cli, action: str, who: str, username: str) -> tuple[Result, str, str]:
    """The same command naming what does not exist: ``(result, name in the cell, name in the twin)``.

    Someone who reaches nothing of ``acme`` compares with an unknown workspace; anyone else
    with a missing key.
    """
    argv = list(COMMANDS[action])
    if all(outcome == HIDDEN for outcome in EXPECTED[who].values()):
        hidden, missing = "acme", "nope"
    else:
        hidden, missing = KEYS[action], "NO_SUCH_KEY"
    argv[argv.index(hidden)] = missing
    return run(*argv, "--actor", username), hidden, missing


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", sorted(PEOPLE))
def test_matrix(cli: Cli, vault: Workspace, django_user_model: Any, who: str, action: str) -> None:  # noqa: F811
    username = make_person(who, vault, django_user_model).get_username()
    before = state()
    events_before = set(AuditEvent.objects.values_list("pk", flat=True))
    result = cli(*COMMANDS[action], "--actor", username)
    expected = EXPECTED[who][action]
    shown = result.out + result.err
    if not (expected == OK and action in VALUE_READS):
        assert "-v1" not in shown and "-v2" not in shown, shown

    if expected == OK:
        assert result.code == 0, result.err
        written = list(AuditEvent.objects.exclude(pk__in=events_before).values_list("action", "username"))
        assert all(name == username for _, name in written), written
        if action not in ("list", "meta_prd", "audit"):  # reads of metadata are not audited
            assert written
        assert_done(action, who, result)
        return

    line = result.error()  # exit 1, one line, no traceback
    assert result.code == 1 and result.out == ""
    assert state() == before
    if expected == DENIED:
        assert PERMISSION_MESSAGE.match(line), line
    else:
        assert expected == HIDDEN
        twin, hidden, missing = missing_twin(cli, action, who, username)
        assert twin.code == 1
        assert line.replace(hidden, "X") == twin.error().replace(missing, "X")
        assert state() == before


def test_every_person_and_action_has_an_expected_outcome() -> None:
    assert set(PEOPLE) == {"superuser", "global_view_secret", "viewer", "developer", "developer_dev"} | {
        "admin",
        "group_developer_dev",
        "non_member_staff",
    }
    for who in PEOPLE:
        assert set(EXPECTED[who]) == set(ACTIONS)
    assert {EXPECTED[who][action] for who in PEOPLE for action in ACTIONS} == {OK, DENIED, HIDDEN}
