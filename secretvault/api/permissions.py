"""Who may do what through the API.

People (Django users) hold Django model permissions: ``view``/``add``/``change``/
``delete`` on the models, plus ``reveal_secret``, ``rollback_secret`` and
``revoke_servicetoken``. Superusers hold them all. Each view maps its actions to the
permissions they need (``required_permissions``).

Service tokens hold no model permission. Each view maps its actions to a token
policy (``token_policy``): ``"read"``, ``"write"`` (needs ``can_write``) or absent
(refused with 403: tokens never manage tokens, environments or workspaces, nor read
the audit trail). A token reaches only its own workspace (any other answers 404),
and within it only what its environments and scope reach:

* it **sees** a secret that serves one of its environments (a global secret serves
  them all) and is unscoped or shares a scope tag with it. Unrestricted tokens
  (no ``envs``, no ``scope``) see everything of that dimension. What it cannot
  see answers 404, on lists, detail, version and action routes alike;
* it **writes** only secrets whose effect stays within its reach: environments a
  non-empty subset of its own, scope a non-empty subset of its own (a global or
  unscoped secret reaches beyond a restricted token). Otherwise 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, QuerySet
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from secretvault.models import (
    Environment,
    Secret,
    SecretEnvironment,
    ServiceToken,
    TokenEnvironment,
    Workspace,
)

if TYPE_CHECKING:
    from secretvault.managers import SecretQuerySet

READ = "read"
WRITE = "write"


def request_token(request: Any) -> ServiceToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ServiceToken) else None


class TokenAccess:
    """The reach of one service token, with the checks and filters derived from it."""

    def __init__(self, token: ServiceToken) -> None:
        self.token = token
        self.scope: frozenset[str] = frozenset(token.scope or [])

    @cached_property
    def env_slugs(self) -> frozenset[str]:
        """The token's environments (one query, once per request)."""
        return frozenset(
            Environment.objects.filter(tokens=self.token).order_by().values_list("slug", flat=True)
        )

    @property
    def env_restricted(self) -> bool:
        return bool(self.env_slugs)

    @property
    def default_env(self) -> str | None:
        """The environment a request gets when it names none: the token's only one."""
        if len(self.env_slugs) == 1:
            return next(iter(self.env_slugs))
        return None

    # -- environments ------------------------------------------------------------------

    def check_env(self, env: str) -> None:
        if self.env_restricted and env not in self.env_slugs:
            raise exceptions.PermissionDenied(f"This token cannot reach environment {env!r}.")

    def check_scope(self, tags: Iterable[str]) -> None:
        outside = sorted(set(tags) - self.scope) if self.scope else []
        if outside:
            raise exceptions.PermissionDenied(f"This token cannot reach scope tag(s): {', '.join(outside)}.")

    def filter_environments(self, qs: QuerySet[Environment]) -> QuerySet[Environment]:
        token_envs = TokenEnvironment.objects.filter(token_id=self.token.pk)
        return qs.filter(~Exists(token_envs) | Exists(token_envs.filter(environment_id=OuterRef("pk"))))

    # -- secrets -----------------------------------------------------------------------

    def filter_secrets(self, qs: SecretQuerySet) -> SecretQuerySet:
        """Only what the token sees, in SQL (no query of its own)."""
        token_envs = TokenEnvironment.objects.filter(token_id=self.token.pk)
        secret_envs = SecretEnvironment.objects.filter(secret_id=OuterRef("pk"))
        qs = qs.filter(
            ~Exists(token_envs)
            | ~Exists(secret_envs)
            | Exists(secret_envs.filter(environment_id__in=token_envs.values("environment_id")))
        )
        if self.scope:
            qs = qs.for_scope(sorted(self.scope))
        return qs

    def can_see(self, env_slugs: Iterable[str], scope: Iterable[str]) -> bool:
        envs, tags = set(env_slugs), set(scope or [])
        env_ok = not self.env_restricted or not envs or bool(envs & self.env_slugs)
        scope_ok = not self.scope or not tags or bool(tags & self.scope)
        return env_ok and scope_ok

    def check_write(self, env_slugs: Iterable[str], scope: Iterable[str]) -> None:
        """403 unless a secret with these environments and scope stays within the token's reach."""
        envs, tags = set(env_slugs), set(scope or [])
        if self.env_restricted:
            if not envs:
                raise exceptions.PermissionDenied(
                    "This token is restricted to some environments; it cannot write a "
                    "global secret. Name its environments in 'envs'."
                )
            self.check_env_set(envs)
        if self.scope:
            if not tags:
                raise exceptions.PermissionDenied(
                    "This token is restricted to some scope tags; it cannot write an "
                    "unscoped secret. Name its tags in 'scope'."
                )
            self.check_scope(tags)

    def check_env_set(self, envs: set[str]) -> None:
        outside = sorted(envs - self.env_slugs)
        if outside:
            raise exceptions.PermissionDenied(
                f"This token cannot reach environment(s): {', '.join(outside)}."
            )


def token_access(request: Any) -> TokenAccess | None:
    """The ``TokenAccess`` of a token-authenticated request (cached on it), else ``None``."""
    token = request_token(request)
    if token is None:
        return None
    access = getattr(request, "_secretvault_token_access", None)
    if access is None or access.token is not token:
        access = TokenAccess(token)
        request._secretvault_token_access = access
    return access


class VaultPermission(BasePermission):
    """Model permissions for people, token policy and reach for service tokens.

    Views declare ``required_permissions`` (action → codenames in ``secretvault``)
    and ``token_policy`` (action → ``"read"``/``"write"``); an action missing from
    them is refused. Object checks (``has_object_permission``) apply a token's reach
    to the secret, environment or workspace a route names.
    """

    app_label = "secretvault"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        token = request_token(request)
        action = getattr(view, "action", None)
        if token is not None:
            workspace_slug = view.kwargs.get(getattr(view, "workspace_url_kwarg", "ws"))
            if workspace_slug is not None and workspace_slug != token.workspace.slug:
                # Other workspaces do not exist for a token.
                raise exceptions.NotFound()
            policy = getattr(view, "token_policy", {}).get(action)
            if policy is None:
                raise exceptions.PermissionDenied("Service tokens cannot use this endpoint.")
            if policy == WRITE and not token.can_write:
                raise exceptions.PermissionDenied("This service token is read-only.")
            return True
        if user.is_superuser:
            return True
        codenames = getattr(view, "required_permissions", {}).get(action)
        if codenames is None:
            return False
        return user.has_perms([f"{self.app_label}.{codename}" for codename in codenames])

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        access = token_access(request)
        if access is None:
            return True  # people: model permissions, checked above, cover every object
        token = access.token
        workspace_id = obj.pk if isinstance(obj, Workspace) else getattr(obj, "workspace_id", None)
        if workspace_id != token.workspace_id:
            raise exceptions.NotFound()
        if isinstance(obj, Secret):
            envs = obj.env_slugs()
            if not access.can_see(envs, obj.scope):
                raise exceptions.NotFound()
            if getattr(view, "token_policy", {}).get(view.action) == WRITE:
                access.check_write(envs, obj.scope)
        elif isinstance(obj, Environment):
            if access.env_restricted and obj.slug not in access.env_slugs:
                raise exceptions.NotFound()
        return True
