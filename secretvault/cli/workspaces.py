"""``workspace create|list`` and ``env create|list``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from secretvault import services
from secretvault.access import Reach
from secretvault.models import Secret, Workspace

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
    if principal.is_unrestricted:
        workspaces = Workspace.objects.annotate(
            n_envs=Count("environments", distinct=True),
            n_secrets=Count("secrets", distinct=True),
            n_tokens=Count("tokens", distinct=True),
        ).order_by("slug")
        rows: list[tuple[Any, ...]] = [
            (w.slug, w.name, w.n_envs, w.n_secrets, w.n_tokens) for w in workspaces
        ]
    else:
        reached = principal.filter_workspaces(Workspace.objects.order_by("slug"))
        rows = [_reached_row(workspace, principal.reach(workspace)) for workspace in reached]
    if not rows:
        session.stdout.write("No workspaces.")
        return
    session.stdout.write(table(("SLUG", "NAME", "ENVS", "SECRETS", "TOKENS"), rows))


def _reached_row(workspace: Workspace, reach: Reach) -> tuple[Any, ...]:
    """A row of ``workspace list`` for a restricted actor: counts of what it sees, ``-`` elsewhere."""
    envs: int | str = "-"
    secrets: int | str = "-"
    tokens: int | str = "-"
    if reach.has("view_environment"):
        envs = reach.filter_environments(workspace.environments.all()).count()
    if reach.has("view_secret"):
        secrets = reach.filter_secrets(Secret.objects.filter(workspace=workspace)).count()
    if reach.has("view_servicetoken"):
        tokens = workspace.tokens.count()
    return workspace.slug, workspace.name, envs, secrets, tokens


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
