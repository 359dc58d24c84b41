"""``workspace create|list`` and ``env create|list``."""

from __future__ import annotations

from typing import Any

from secretvault import services
from secretvault.access import Reach
from secretvault.models import Workspace

from .output import table
from .parsing import Subcommands
from .session import Options, Session


def register(commands: Subcommands) -> None:
    workspaces = commands.group("workspace", "create or list workspaces")
    sub = workspaces.add("create", "Create a workspace.", handle_workspace_create, commands.actor)
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("--name", default="", help="display name (default: the slug)")
    workspaces.add("list", "List workspaces.", handle_workspace_list, commands.actor)

    envs = commands.group("env", "create or list a workspace's environments")
    sub = envs.add("create", "Create an environment.", handle_env_create, *commands.in_workspace)
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("--name", default="", help="display name (default: the slug)")
    envs.add("list", "List a workspace's environments.", handle_env_list, *commands.in_workspace)


def handle_workspace_create(session: Session, options: Options) -> None:
    workspace = services.create_workspace(
        slug=options["slug"], name=options["name"], actor=session.actor(options)
    )
    session.stdout.write(f"Created workspace {workspace.slug} ({workspace.name}).")


def handle_workspace_list(session: Session, options: Options) -> None:
    """Every workspace, or with ``--actor`` those it reaches, counting only what it sees (SPEC §9)."""
    principal = session.principal(options)
    reached = principal.with_counts(principal.filter_workspaces(Workspace.objects.order_by("slug")))
    rows = [_row(w, principal.reach(w)) for w in reached]
    if not rows:
        session.stdout.write("No workspaces.")
        return
    session.stdout.write(table(("SLUG", "NAME", "ENVS", "SECRETS", "TOKENS"), rows))


def _row(workspace: Any, reach: Reach) -> tuple[Any, ...]:
    """A row of ``workspace list``: the counts ``with_counts`` annotated, ``-`` for what the
    actor may not list at all (rather than a 0 that would read as "none there")."""
    counts = (
        ("view_environment", workspace.env_count),
        ("view_secret", workspace.secret_count),
        ("view_servicetoken", workspace.token_count),
    )
    return workspace.slug, workspace.name, *(count if reach.has(c) else "-" for c, count in counts)


def handle_env_create(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    env = services.create_environment(
        workspace, slug=options["slug"], name=options["name"], actor=session.actor(options)
    )
    session.stdout.write(f"Created environment {env.slug} ({env.name}) in workspace {workspace.slug}.")


def handle_env_list(session: Session, options: Options) -> None:
    """The environments the ``--actor`` reaches (``view_environment``; SPEC §9)."""
    workspace = session.workspace(options, "view_environment")
    envs = session.reach(workspace, options).filter_environments(workspace.environments.order_by("slug"))
    if not envs:
        session.stdout.write(f"No environments in workspace {workspace.slug}.")
        return
    session.stdout.write(table(("SLUG", "NAME"), [(env.slug, env.name) for env in envs]))
