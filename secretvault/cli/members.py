"""``member add|list|remove``: who holds which role in a workspace (SPEC §9).

Writes go through ``secretvault.members`` (audited; with ``--actor`` nobody grants
more than they hold).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError

from secretvault import members
from secretvault.models import MemberRole, WorkspaceMember

from .output import scope_label, table, when
from .parsing import Subcommands
from .session import Options, Session


def register(commands: Subcommands) -> None:
    group = commands.group("member", "add, list or remove workspace members")
    sub = group.add(
        "add", "Give a user or a group a role in the workspace.", handle_add, *commands.in_workspace
    )
    _who(sub)
    sub.add_argument("--role", required=True, choices=MemberRole.values)
    sub.add_argument("--env", action="append", default=[], metavar="ENV", help="restrict to an environment")
    sub = group.add("list", "List the workspace's members.", handle_list, *commands.in_workspace)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub = group.add("remove", "End a user's or a group's membership.", handle_remove, *commands.in_workspace)
    _who(sub)


def _who(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="USERNAME")
    who.add_argument("--group", metavar="NAME")


def _target(options: Options) -> dict[str, Any]:
    if options.get("user"):
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: options["user"]}).first()
        if user is None:
            raise CommandError(f"--user: unknown user {options['user']!r}.")
        return {"user": user}
    group = Group.objects.filter(name=options["group"]).first()
    if group is None:
        raise CommandError(f"--group: unknown group {options['group']!r}.")
    return {"group": group}


def handle_add(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    member = members.add_member(
        workspace, role=options["role"], envs=options["env"], actor=session.actor(options), **_target(options)
    )
    session.stdout.write(
        f"Added {member.principal_label} to workspace {workspace.slug} as {member.role}, "
        f"envs {scope_label(member.env_slugs())}."
    )


def _members(session: Session, options: Options) -> list[WorkspaceMember]:
    workspace = session.workspace(options, "view_workspacemember")
    rows = WorkspaceMember.objects.filter(workspace=workspace).select_related("user", "group", "created_by")
    return list(rows.prefetch_related("envs").order_by("created_at", "pk"))


def handle_list(session: Session, options: Options) -> None:
    rows = _members(session, options)
    if options["json"]:
        data = [
            {
                "id": str(m.pk),
                "user": m.user.get_username() if m.user else None,
                "group": m.group.name if m.group else None,
                "role": m.role,
                "envs": m.env_slugs(),
                "created_at": m.created_at.isoformat(),
                "created_by": m.created_by.get_username() if m.created_by else None,
            }
            for m in rows
        ]
        session.stdout.write(json.dumps(data, indent=2))
        return
    session.stdout.write(
        table(
            ["MEMBER", "ROLE", "ENVS", "CREATED"],
            [(m.principal_label, m.role, scope_label(m.env_slugs()), when(m.created_at)) for m in rows],
        )
    )


def handle_remove(session: Session, options: Options) -> None:
    # Required before the lookup: who is a member is not told to those who cannot remove one.
    workspace = session.workspace(options, "delete_workspacemember")
    target = _target(options)
    member = WorkspaceMember.objects.filter(workspace=workspace, **target).select_related("workspace").first()
    if member is None:
        raise CommandError(f"no such member of workspace {workspace.slug!r}.")
    label = member.principal_label
    members.remove_member(member, actor=session.actor(options))
    session.stdout.write(f"Removed {label} from workspace {workspace.slug}.")
