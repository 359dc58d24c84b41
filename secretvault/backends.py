"""Object permissions from workspace memberships (SPEC §9), the Django way.

Add it after Django's own backend::

    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "secretvault.backends.WorkspacePermissionBackend",
    ]

It authenticates nobody (``authenticate()`` returns ``None``). ``has_perm(user, perm,
obj)`` answers for one object -- a workspace, environment, secret, secret version,
service token or member -- from ``secretvault.access``: the user's global model
permissions (which keep granting across every workspace), their memberships and
their groups' memberships. Without an object it answers nothing, leaving global
permissions to ``ModelBackend``. Inactive users hold nothing. For lists, use
``secretvault.access.principal_for_user(user).filter_workspaces()`` / ``filter_secrets()``:
one query, not one per row.
"""

from __future__ import annotations

from typing import Any

from secretvault import access
from secretvault.errors import AccessError


class WorkspacePermissionBackend:
    """Authorization only: ``user.has_perm("secretvault.reveal_secret", secret)``."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        """A member of some workspace sees the secretvault section of the admin."""
        if app_label != access.APP_LABEL or not getattr(user_obj, "is_active", False):
            return False
        return bool(access.principal_for_user(user_obj).workspace_ids())

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if obj is None or not getattr(user_obj, "is_active", False):
            return False
        app_label, _, codename = perm.partition(".")
        if app_label != access.APP_LABEL:
            return False
        return object_permission(access.principal_for_user(user_obj), codename, obj)


def object_permission(principal: access.Principal, codename: str, obj: Any) -> bool:
    """Whether ``principal`` holds ``codename`` over ``obj`` (a secretvault model instance)."""
    from secretvault.models import (
        AuditEvent,
        Environment,
        Secret,
        SecretVersion,
        ServiceToken,
        Workspace,
        WorkspaceMember,
    )

    if isinstance(obj, Workspace):
        return principal.reach(obj).has(codename)
    if isinstance(obj, SecretVersion):
        obj = obj.secret
    if isinstance(obj, Secret):
        try:
            principal.reach(obj.workspace_id).check_secret(obj, codename)
        except AccessError:
            return False
        return True
    if isinstance(obj, Environment):
        reach = principal.reach(obj.workspace_id)
        return reach.has(codename) and reach.sees_environment(obj.slug, codename)
    if isinstance(obj, (ServiceToken, WorkspaceMember, AuditEvent)):
        return principal.reach(obj.workspace_id).has(codename)
    return False
