"""``audit verify``: recompute a workspace's audit chain (exit 1 when it is broken)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import ngettext

from secretvault.audit import verify_chain

from .parsing import Subcommands
from .session import Options, Session


def register(commands: Subcommands) -> None:
    audit = commands.group("audit", "check a workspace's audit trail")
    audit.add(
        "verify",
        "Recompute the audit chain; exit 1 on an edited, removed or missing event.",
        handle_verify,
        *commands.in_workspace,
    )


def handle_verify(session: Session, options: Options) -> None:
    """Needs ``view_auditevent`` in the workspace with ``--actor`` (the admin role's; SPEC §9)."""
    workspace = session.workspace(options, "view_auditevent")
    report = verify_chain(workspace)
    if not report.ok:
        for problem in report.problems:
            session.stdout.write(f"BROKEN: {problem}")
        raise CommandError(
            f"the audit chain of workspace {workspace.slug!r} is broken "
            f"({_count(len(report.problems), 'problem', 'problems')} in "
            f"{_count(report.checked, 'event', 'events')})."
        )
    intact = ngettext("%(count)d event intact", "%(count)d events intact", report.checked)
    session.stdout.write(f"Audit chain of {workspace.slug} verified: {intact % {'count': report.checked}}.")


def _count(count: int, singular: str, plural: str) -> str:
    """``"1 event"``, ``"2 events"`` (through ``ngettext``, so languages with other rules can follow)."""
    return f"{count} {ngettext(singular, plural, count)}"
