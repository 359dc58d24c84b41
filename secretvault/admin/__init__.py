"""The Django admin for secretvault: a thin door into ``secretvault.services``.

Every write goes through the services (versioned, audited, actor recorded).
Secret values are never rendered back into HTML, except by the reveal view to
users holding ``secretvault.reveal_secret``; a raw service token is shown once,
on the page that follows its creation, and never again.

One module per model: ``workspaces`` (workspaces, environments), ``secrets``,
``tokens``, ``audit``; shared pieces in ``base``. Importing this package
registers every class with the default admin site.
"""

from secretvault.admin.audit import AuditEventAdmin
from secretvault.admin.base import (
    EnvironmentFilter,
    ProtectedDeleteMixin,
    ServiceFormAdmin,
    StateFilter,
    WorkspaceFirstAdmin,
)
from secretvault.admin.members import WorkspaceMemberAdmin
from secretvault.admin.secrets import SecretAdmin
from secretvault.admin.tokens import ServiceTokenAdmin
from secretvault.admin.workspaces import EnvironmentAdmin, WorkspaceAdmin

__all__ = [
    "AuditEventAdmin",
    "EnvironmentAdmin",
    "EnvironmentFilter",
    "ProtectedDeleteMixin",
    "SecretAdmin",
    "ServiceFormAdmin",
    "ServiceTokenAdmin",
    "StateFilter",
    "WorkspaceAdmin",
    "WorkspaceFirstAdmin",
    "WorkspaceMemberAdmin",
]
