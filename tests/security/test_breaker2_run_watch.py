"""``run --watch --actor U``: a change of U's reach while the command runs (breaker2).

The watcher is driven in-process: ``process.run_watching`` is replaced by a stand-in
that calls ``next_environ`` the way the real loop does, between changes made here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from secretvault import members, services
from secretvault.cli import run as run_module
from secretvault.models import AuditEvent, Environment, Secret, Workspace


def _watch_with(
    monkeypatch: pytest.MonkeyPatch, between: list[Callable[[], None]]
) -> list[Mapping[str, str] | None]:
    """Replace the watcher: after each step in ``between``, ask ``next_environ`` once."""
    seen: list[Mapping[str, str] | None] = []

    def fake_run_watching(
        command: Sequence[str],
        environ: Mapping[str, str],
        next_environ: Callable[[], Mapping[str, str] | None],
        **kwargs: Any,
    ) -> int:
        seen.append(environ)
        for step in between:
            step()
            seen.append(next_environ())
        return 0

    monkeypatch.setattr(run_module.process, "run_watching", fake_run_watching)
    return seen


def _run(actor: str) -> str:
    err = StringIO()
    call_command(
        "secretvault",
        "run",
        "-w",
        "acme",
        "--env",
        "dev",
        "--watch",
        "--actor",
        actor,
        "--",
        "true",
        stderr=err,
        stdout=StringIO(),
    )
    return err.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("revoke", ["remove_member", "deactivate", "narrow_envs"])
def test_watch_stops_handing_values_to_an_actor_whose_reach_ended(
    monkeypatch: pytest.MonkeyPatch,
    workspace: Workspace,
    dev: Environment,
    prd: Environment,
    django_user_model: Any,
    revoke: str,
) -> None:
    user = django_user_model.objects.create_user("dave", password="pw")
    member = members.add_member(workspace, user=user, role="developer", envs=["dev", "prd"])
    services.create_secret(workspace, key="TOKEN", value="first-value", envs=["dev"])

    def revoke_reach() -> None:
        if revoke == "remove_member":
            members.remove_member(member)
        elif revoke == "deactivate":
            user.is_active = False
            user.save()
        else:
            members.update_member(member, envs=["prd"])

    def change_value() -> None:
        services.update_secret(Secret.objects.get(workspace=workspace, key="TOKEN"), value="after-revoke")

    seen = _watch_with(monkeypatch, [revoke_reach, change_value])
    stderr = _run("dave")
    assert seen[0] is not None and seen[0]["TOKEN"] == "first-value"
    handed = [environ for environ in seen[1:] if environ is not None]
    assert not any(environ.get("TOKEN") == "after-revoke" for environ in handed), (
        "a revoked actor got a new value"
    )
    update = AuditEvent.objects.get(action="secret.update")
    assert not AuditEvent.objects.filter(
        action="secrets.load", username="dave", sequence__gt=update.sequence
    ).exists()
    assert "no longer allowed to load" in stderr
    assert "after-revoke" not in stderr


@pytest.mark.django_db(transaction=True)
def test_watch_keeps_handing_values_while_reach_holds(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace, dev: Environment, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("erin", password="pw")
    members.add_member(workspace, user=user, role="developer", envs=["dev"])
    services.create_secret(workspace, key="TOKEN", value="first-value", envs=["dev"])

    def change_value() -> None:
        services.update_secret(Secret.objects.get(workspace=workspace, key="TOKEN"), value="second-value")

    seen = _watch_with(monkeypatch, [change_value])
    _run("erin")
    assert seen[1] is not None and seen[1]["TOKEN"] == "second-value"
