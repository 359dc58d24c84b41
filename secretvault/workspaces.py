"""Workspaces and environments: create, change, delete (SPEC §1, §9); re-exported by ``services``.

Every write is atomic and audited; ``environments_by_slug`` is the one lookup of
environments by slug, for every door and service (unknown slugs are a
``ValidationError`` naming them, quoted).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from secretvault import access, audit
from secretvault.access import Reach
from secretvault.audit import Actor
from secretvault.errors import ConflictError, InUseError
from secretvault.models import Environment, MemberRole, Workspace, WorkspaceMember
from secretvault.validators import MAX_LIST_ITEMS, UNSET, field_errors, validate_slug, validate_text


def _reach(workspace: Workspace | Any, actor: Actor | None) -> Reach:
    """The actor's reach in ``workspace`` (``secretvault.access``); the system reaches everything."""
    return access.principal_for_actor(actor).reach(workspace)


def create_workspace(*, slug: str, name: str = "", actor: Actor | None = None) -> Workspace:
    """Create a workspace; a person or token as ``actor`` needs global ``add_workspace``.

    Raises ``AccessDeniedError`` without it (SPEC §3, §9: the API, the admin and the CLI's
    ``--actor`` alike), ``ValidationError`` for a bad slug or name, ``ConflictError`` for a
    taken slug.
    """
    access.principal_for_actor(actor).require_global("add_workspace")
    field_errors({"slug": lambda: validate_slug(slug), "name": lambda: validate_text(name, max_length=200)})
    try:
        with transaction.atomic():
            workspace = Workspace(slug=slug, name=name or slug)
            workspace.save(force_insert=True)
            audit.record("workspace.create", workspace=workspace, actor=actor, detail={"slug": slug})
            user: Any = actor.user if actor is not None and actor.token is None else None
            if user is not None and not user.has_perm("secretvault.change_workspace"):
                # SPEC §9: whoever creates a workspace without global change_workspace runs it.
                member = WorkspaceMember.objects.create(
                    workspace=workspace, user=user, role=MemberRole.ADMIN, created_by=user
                )
                audit.record_member("member.add", member, actor)
                access.forget_principal(user)
    except IntegrityError:
        raise ConflictError(f"A workspace with slug {slug!r} already exists.") from None
    return workspace


def delete_workspace(workspace: Workspace, actor: Actor | None = None) -> None:
    try:
        with transaction.atomic():
            slug, pk = workspace.slug, str(workspace.pk)
            workspace.delete()
            # The workspace (and its audit chain key) is gone: a global, unchained event.
            audit.record("workspace.delete", workspace=None, actor=actor, detail={"slug": slug, "id": pk})
    except ProtectedError:
        raise InUseError(
            f"Workspace {workspace.slug!r} still holds secrets or service tokens; delete them first."
        ) from None


def create_environment(
    workspace: Workspace, *, slug: str, name: str = "", actor: Actor | None = None
) -> Environment:
    field_errors({"slug": lambda: validate_slug(slug), "name": lambda: validate_text(name, max_length=200)})
    _reach(workspace, actor).require("add_environment")
    try:
        with transaction.atomic():
            env = Environment.objects.create(workspace=workspace, slug=slug, name=name or slug)
            audit.record("environment.create", workspace=workspace, actor=actor, detail={"slug": slug})
    except IntegrityError:
        raise ConflictError(f"Workspace {workspace.slug!r} already has an environment {slug!r}.") from None
    return env


def update_environment(
    env: Environment, *, slug: str = UNSET, name: str = UNSET, actor: Actor | None = None
) -> Environment:
    _reach(env.workspace_id, actor).require("change_environment")
    checks: dict[str, Callable[[], Any]] = {}
    if slug is not UNSET:
        checks["slug"] = lambda: validate_slug(slug)
    if name is not UNSET:
        checks["name"] = lambda: validate_text(name, max_length=200)
    field_errors(checks)
    if slug is not UNSET:
        env.slug = slug
    if name is not UNSET:
        env.name = name
    try:
        with transaction.atomic():
            env.save()
            audit.record(
                "environment.update", workspace=env.workspace, actor=actor, detail={"slug": env.slug}
            )
    except IntegrityError:
        raise ConflictError(f"The workspace already has an environment {env.slug!r}.") from None
    return env


def delete_environment(env: Environment, actor: Actor | None = None) -> None:
    """Refused while a secret or token names it: dropping it would widen them to every env."""
    _reach(env.workspace_id, actor).require("delete_environment")
    try:
        with transaction.atomic():
            slug = env.slug
            env.delete()
            audit.record("environment.delete", workspace=env.workspace, actor=actor, detail={"slug": slug})
    except ProtectedError:
        raise InUseError(
            f"Environment {env.slug!r} is named by secrets or service tokens; removing it "
            "would make them apply to every environment. Change them first."
        ) from None


def environments_by_slug(workspace: Workspace, slugs: Iterable[str]) -> list[Environment]:
    """The workspace's environments named by ``slugs``; a ``ValidationError`` names unknown ones.

    At most ``MAX_LIST_ITEMS`` slugs (``ValidationError`` with code ``too_many``).
    """
    named = list(itertools.islice(slugs, MAX_LIST_ITEMS + 1))
    if len(named) > MAX_LIST_ITEMS:
        raise ValidationError(f"At most {MAX_LIST_ITEMS} environments may be named.", code="too_many")
    wanted = sorted(set(named))
    if not wanted:
        return []
    found = {env.slug: env for env in Environment.objects.filter(workspace=workspace, slug__in=wanted)}
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise ValidationError(
            f"Unknown environment(s) in workspace {workspace.slug!r}: {', '.join(map(repr, unknown))}.",
            code="unknown_env",
        )
    return [found[slug] for slug in wanted]
