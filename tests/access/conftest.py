"""Fixtures of the access tests: people holding memberships, through the API's clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from secretvault import services
from secretvault.models import Workspace, WorkspaceMember
from tests.api.conftest import _client, basic, bearer, person, su, token_client  # noqa: F401


@pytest.fixture
def member(django_user_model: Any) -> Callable[..., tuple[Any, Any]]:
    """``user, client = member("developer", envs=["dev"])``: a member of ``acme`` (or ``workspace=``).

    ``via_group=True`` grants the role to a group the user belongs to instead.
    """
    counter = {"n": 0}

    def make(
        role: str,
        envs: list[str] | None = None,
        *,
        workspace: str = "acme",
        via_group: bool = False,
        is_staff: bool = True,
    ) -> tuple[Any, Any]:
        counter["n"] += 1
        user = django_user_model.objects.create_user(
            f"member{counter['n']}", password="pw", is_staff=is_staff
        )
        ws = Workspace.objects.get(slug=workspace)
        target: dict[str, Any] = {"user": user}
        if via_group:
            group = Group.objects.create(name=f"team{counter['n']}")
            user.groups.add(group)
            target = {"group": group}
        row = WorkspaceMember.objects.create(workspace=ws, role=role, **target)
        row.envs.set(services.environments_by_slug(ws, envs or []))
        return user, _client(HTTP_AUTHORIZATION=basic(user.username))

    return make
