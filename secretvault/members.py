"""Workspace members (SPEC §9): the write paths, as ``secretvault.services`` does for secrets.

Every change runs in one transaction with its audit event (``member.add``,
``member.change``, ``member.remove``). Nobody assigns more than they hold: the
actor must hold every permission of the role being granted (and of the role being
changed or removed) over at least the environments it applies to
(``secretvault.access.Reach.covers``); otherwise ``AccessDeniedError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from secretvault import access, audit
from secretvault.access import Envs, EnvSet, Reach
from secretvault.audit import Actor
from secretvault.errors import AccessDeniedError, ConflictError
from secretvault.models import Environment, MemberRole, Workspace, WorkspaceMember
from secretvault.validators import field_errors
from secretvault.workspaces import environments_by_slug

UNSET: Any = object()


def record(action: str, member: WorkspaceMember, actor: Actor | None, **extra: Any) -> None:
    """Audit a membership change (``audit.record_member``)."""
    audit.record_member(action, member, actor, **extra)


def forget_grants(actor: Actor | None) -> None:
    """Drop the cached reach of the actor's user (``access.forget_principal``)."""
    access.forget_principal(actor.user if actor is not None else None)


def _env_set(role: str, envs: list[Environment]) -> Envs:
    if role == MemberRole.ADMIN or not envs:
        return None
    return EnvSet(frozenset(env.pk for env in envs), frozenset(env.slug for env in envs))


def _check_grant(reach: Reach, codename: str, role: str, envs: list[Environment]) -> None:
    reach.require(codename)
    wanted = _env_set(role, envs)
    for permission in sorted(access.ROLE_PERMISSIONS[role]):
        if not reach.covers(permission, wanted):
            raise AccessDeniedError(
                f"You cannot assign the role {role!r} here: it would reach beyond your own access."
            )


def _clean(workspace: Workspace, role: Any, envs: Any) -> tuple[str, list[Environment]]:
    def check_role() -> str:
        if role not in MemberRole.values:
            raise ValidationError(
                f"Role must be one of: {', '.join(MemberRole.values)}.", code="invalid_choice"
            )
        return str(role)

    def check_envs() -> list[Environment]:
        if isinstance(envs, str) or not isinstance(envs, Iterable):
            raise ValidationError("Environments must be a list of slugs.", code="invalid")
        return environments_by_slug(workspace, envs)

    cleaned = field_errors({"role": check_role, "envs": check_envs})
    if cleaned["role"] == MemberRole.ADMIN and cleaned["envs"]:
        raise ValidationError({"envs": ["An admin reaches every environment: name no environments."]})
    return cleaned["role"], cleaned["envs"]


def add_member(
    workspace: Workspace,
    *,
    user: Any = None,
    group: Group | None = None,
    role: str = "viewer",
    envs: Iterable[str] = (),
    actor: Actor | None = None,
) -> WorkspaceMember:
    """Give ``user`` or ``group`` (exactly one) ``role`` in ``workspace``, within ``envs`` (slugs)."""
    if (user is None) == (group is None):
        raise ValidationError("Name exactly one of a user or a group.", code="required")
    role, env_list = _clean(workspace, role, envs)
    _check_grant(access.principal_for_actor(actor).reach(workspace), "add_workspacemember", role, env_list)
    actor_user = actor.user if actor is not None else None
    try:
        with transaction.atomic():
            member = WorkspaceMember.objects.create(
                workspace=workspace,
                user=user,
                group=group,
                role=role,
                created_by=actor_user,  # type: ignore[misc]  # stubs read AUTH_USER_MODEL as auth.User; any fits
            )
            member.envs.set(env_list)
            record("member.add", member, actor)
    except IntegrityError:
        who = f"user {user.get_username()!r}" if group is None else f"group {group.name!r}"
        raise ConflictError(f"{who.capitalize()} is already a member of {workspace.slug!r}.") from None
    return member


def update_member(
    member: WorkspaceMember, *, role: Any = UNSET, envs: Any = UNSET, actor: Actor | None = None
) -> WorkspaceMember:
    """Change a member's role and/or environments. The actor must cover the old and the new grant."""
    workspace = member.workspace
    old_envs = list(member.envs.all())
    role, env_list = _clean(
        workspace,
        member.role if role is UNSET else role,
        [env.slug for env in old_envs] if envs is UNSET else envs,
    )
    reach = access.principal_for_actor(actor).reach(workspace)
    _check_grant(reach, "change_workspacemember", member.role, old_envs)
    _check_grant(reach, "change_workspacemember", role, env_list)
    if role == member.role and {e.pk for e in env_list} == {e.pk for e in old_envs}:
        return member
    with transaction.atomic():
        member.role = role
        member.save(update_fields=["role"])
        member.envs.set(env_list)
        record("member.change", member, actor)
    return member


def remove_member(member: WorkspaceMember, actor: Actor | None = None) -> None:
    """End a membership. The actor must hold at least what the member holds."""
    reach = access.principal_for_actor(actor).reach(member.workspace)
    _check_grant(reach, "delete_workspacemember", member.role, list(member.envs.all()))
    with transaction.atomic():
        record("member.remove", member, actor)
        member.delete()
