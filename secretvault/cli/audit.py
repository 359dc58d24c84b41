"""``audit verify``: recompute a workspace's audit chain (exit 1 when it is broken)."""

from __future__ import annotations

from django.core.management.base import CommandError

from secretvault.audit import verify_chain

from .parsing import Subcommands
from .session import Options, Session


def register(commands: Subcommands) -> None:
    audit = commands.group("audit", "check a workspace's audit trail")
    audit.add(
        "verify",
        "Recompute the audit chain; exit 1 on an edited, removed or missing event.",
        handle_verify,
        commands.workspace,
    )


def handle_verify(session: Session, options: Options) -> None:
    workspace = session.workspace(options)
    report = verify_chain(workspace)
    if not report.ok:
        for problem in report.problems:
            session.stdout.write(f"BROKEN: {problem}")
        raise CommandError(
            f"the audit chain of workspace {workspace.slug!r} is broken "
            f"({len(report.problems)} problem(s) in {report.checked} events)."
        )
    session.stdout.write(f"Audit chain of {workspace.slug} verified: {report.checked} events intact.")
