"""The reach rule: what a principal may see and do, one rule for service tokens and people.

A **principal** is a service token, a person (a Django user, through the global model
permissions Django gives them and through their ``WorkspaceMember`` rows and their
groups' rows), or the system (the operator at the command line without ``--actor``).
In one workspace it holds a ``Reach``: for each permission codename it holds there, the
environments it applies to (``None``: every environment), and the scope tags it is
limited to (``None``: every tag; only tokens are limited by scope).

Where the grants come from (SPEC §3 and §9):

* a superuser and the system hold every codename everywhere;
* a global model permission (``user.has_perm("secretvault.reveal_secret")``) holds that
  codename in every workspace and environment;
* a membership holds ``ROLE_PERMISSIONS[role]`` in its workspace, within its ``envs``;
* a token holds ``TOKEN_READ`` (and ``TOKEN_WRITE`` with ``can_write``) in its own
  workspace, within its ``envs`` and ``scope``.

Several grants of one codename add up (the union of their environments).

What a reach means for secrets (the same for a token and a member restricted to ``dev``):

* it **sees** a secret (``view_secret``, and ``reveal_secret`` for values) that serves one
  of its environments (a global secret serves them all) and is unscoped or shares a tag
  with it; what it does not see is answered like something that does not exist
  (``NotVisibleError``, HTTP 404);
* it **writes** (``add``/``change``/``delete``/``rollback_secret``) only secrets whose
  environments are a non-empty subset of its own and whose scope is a non-empty subset
  of its own, when it is restricted (``AccessDeniedError``, HTTP 403);
* a principal limited to scope tags creates no secret and changes no secret's
  environments or scope (``check_reshape``): key uniqueness and environment overrides
  span every scope, so such a write would either shadow a secret of another scope for
  the consumers that load without a scope, or tell the writer that one exists.

The API, the admin (through ``secretvault.backends.WorkspacePermissionBackend``) and the
command line all ask this module; ``secretvault.services`` asks it again on every write
whose actor is a person or a token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import Exists, OuterRef, Q, QuerySet

from secretvault.errors import AccessDeniedError, NotVisibleError

if TYPE_CHECKING:
    from secretvault.audit import Actor
    from secretvault.managers import SecretQuerySet
    from secretvault.models import Secret, SecretVersion, ServiceToken, Workspace

APP_LABEL = "secretvault"

VIEWER = frozenset({"view_workspace", "view_environment", "view_secret"})
DEVELOPER = VIEWER | {"reveal_secret", "add_secret", "change_secret", "delete_secret", "rollback_secret"}
ADMIN = DEVELOPER | {
    "add_environment",
    "change_environment",
    "delete_environment",
    "view_servicetoken",
    "add_servicetoken",
    "revoke_servicetoken",
    "view_workspacemember",
    "add_workspacemember",
    "change_workspacemember",
    "delete_workspacemember",
    "view_auditevent",
}
#: What each role of ``WorkspaceMember`` holds in its workspace (SPEC §9).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {"viewer": VIEWER, "developer": DEVELOPER, "admin": ADMIN}
#: What every service token holds in its workspace, and what ``can_write`` adds (SPEC §3).
TOKEN_READ = frozenset({"view_workspace", "view_environment", "view_secret", "reveal_secret"})
TOKEN_WRITE = frozenset({"add_secret", "change_secret", "delete_secret", "rollback_secret"})
#: Codenames whose environments restrict reading (visibility) and writing (the subset rule).
SECRET_READ = frozenset({"view_secret", "reveal_secret"})
SECRET_WRITE = TOKEN_WRITE
#: Holding any of these over a secret lets one see it (as the admin: change implies view).
SECRET_SIGHT = frozenset(
    {"view_secret", "reveal_secret", "change_secret", "delete_secret", "rollback_secret"}
)


@dataclass(frozen=True)
class EnvSet:
    """A set of environments of one workspace, by slug (and by id, when known)."""

    ids: frozenset[uuid.UUID] | None
    slugs: frozenset[str]

    def __or__(self, other: EnvSet) -> EnvSet:
        ids = None if self.ids is None or other.ids is None else self.ids | other.ids
        return EnvSet(ids, self.slugs | other.slugs)


#: ``None`` in an environment or scope position means "every one".
Envs = EnvSet | None
#: An ``Envs``, or ``False`` for "no grant at all" (nothing is seen).
Grant = EnvSet | None | Literal[False]


def _union(a: Envs, b: Envs) -> Envs:
    return None if a is None or b is None else a | b


def _covers(mine: Envs, theirs: Envs) -> bool:
    """Whether environments ``mine`` include ``theirs`` (``None`` = every environment)."""
    if mine is None:
        return True
    return theirs is not None and bool(theirs.slugs) and theirs.slugs <= mine.slugs


class Reach:
    """One principal's reach in one workspace. Built by ``Principal.reach()``; no queries."""

    def __init__(
        self,
        workspace_id: Any,
        perms: dict[str, Envs],
        *,
        scope: frozenset[str] | None = None,
        token: ServiceToken | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.perms = perms
        self.scope = scope
        self.token = token
        self._sight: Grant = False
        for codename in SECRET_SIGHT & perms.keys():
            envs = perms[codename]
            self._sight = envs if self._sight is False else _union(self._sight, envs)

    def __repr__(self) -> str:
        return f"<Reach workspace={self.workspace_id} perms={sorted(self.perms)}>"

    @property
    def who(self) -> str:
        return "This token" if self.token is not None else "You"

    # -- actions -------------------------------------------------------------------

    def has(self, codename: str) -> bool:
        return codename in self.perms

    def envs(self, codename: str) -> Envs:
        """The environments ``codename`` applies to (``None``: all). Call ``has()`` first."""
        return self.perms[codename]

    @property
    def reaches(self) -> bool:
        """Whether the workspace exists for this principal at all."""
        return bool(self.perms)

    @property
    def limited(self) -> bool:
        """Whether some grant is limited to environments or scope tags: then what this
        principal may do to a secret depends on the secret's environments and scope."""
        return self.scope is not None or any(envs is not None for envs in self.perms.values())

    def require(self, *codenames: str) -> None:
        """``AccessDeniedError`` unless every codename is held (in some environment)."""
        _require(self.perms.keys(), codenames, is_token=self.token is not None)

    def covers(self, codename: str, envs: Envs) -> bool:
        """Whether this principal holds ``codename`` over at least the environments ``envs``."""
        return codename in self.perms and _covers(self.perms[codename], envs)

    # -- environments ----------------------------------------------------------------

    def env_restricted(self, codename: str = "view_secret") -> bool:
        return self.perms.get(codename) is not None

    def default_env(self, codename: str = "view_secret") -> str | None:
        """The environment a request naming none gets: the principal's only one, if so restricted."""
        envs = self.perms.get(codename)
        if envs is not None and len(envs.slugs) == 1:
            return next(iter(envs.slugs))
        return None

    def check_env(self, env: str, codename: str = "view_secret") -> None:
        """``AccessDeniedError`` when ``codename`` does not reach the environment ``env``."""
        self.require(codename)
        envs = self.perms[codename]
        if envs is not None and env not in envs.slugs:
            raise AccessDeniedError(f"{self.who} cannot reach environment {env!r}.")

    def check_named_envs(self, slugs: object, codename: str) -> None:
        """``AccessDeniedError`` for a named environment outside ``codename``'s reach.

        Asked before the names are looked up: a principal restricted to some environments
        gets the same answer for an environment it cannot reach whether or not it exists
        (SPEC §9), where an unrestricted one learns of an unknown slug (a ``ValidationError``
        later). Anything but a list of strings is left to that validation.
        """
        if not self.env_restricted(codename) or not isinstance(slugs, (list, tuple)):
            return
        for slug in slugs:
            if isinstance(slug, str):
                self.check_env(slug, codename)

    def check_scope(self, tags: Iterable[str]) -> None:
        outside = sorted(set(tags) - self.scope) if self.scope is not None else []
        if outside:
            raise AccessDeniedError(f"{self.who} cannot reach scope tag(s): {', '.join(outside)}.")

    def sees_environment(self, env_slug: str, codename: str = "view_environment") -> bool:
        if codename not in self.perms:
            return False
        envs = self.perms[codename]
        return envs is None or env_slug in envs.slugs

    def environments_q(self, codename: str = "view_environment") -> Q:
        if codename not in self.perms:
            return Q(pk__in=[])
        envs = self.perms[codename]
        condition = Q(workspace_id=self.workspace_id)
        return condition if envs is None else condition & Q(slug__in=sorted(envs.slugs))

    def filter_environments(self, qs: QuerySet, codename: str = "view_environment") -> QuerySet:
        return qs.filter(self.environments_q(codename))

    # -- secrets -------------------------------------------------------------------

    def _envs_for(self, codename: str) -> Grant:
        """``codename``'s environments; for ``view_secret`` those of any ``SECRET_SIGHT`` codename."""
        if codename == "view_secret":
            return self._sight
        return self.perms[codename] if codename in self.perms else False

    def sees(self, env_slugs: Iterable[str], scope: Iterable[str], codename: str = "view_secret") -> bool:
        """Whether a secret serving ``env_slugs`` (empty: global) with ``scope`` is visible."""
        mine = self._envs_for(codename)
        if mine is False:
            return False
        envs, tags = set(env_slugs), set(scope or [])
        env_ok = mine is None or not envs or bool(envs & mine.slugs)
        scope_ok = self.scope is None or not tags or bool(tags & self.scope)
        return env_ok and scope_ok

    def check_write(
        self, env_slugs: Iterable[str], scope: Iterable[str], codename: str = "change_secret"
    ) -> None:
        """``AccessDeniedError`` unless a secret with these envs and scope stays within reach."""
        self.require(codename)
        envs, tags = set(env_slugs), set(scope or [])
        mine = self.perms[codename]
        if mine is not None:
            if not envs:
                # Door-neutral: 'envs' in the API, --env in the CLI, Environments in the admin.
                raise AccessDeniedError(
                    f"{self.who} can write only in some environments, not a global secret: "
                    f"give it one or more of {', '.join(sorted(mine.slugs))}."
                )
            outside = sorted(envs - mine.slugs)
            if outside:
                raise AccessDeniedError(f"{self.who} cannot reach environment(s): {', '.join(outside)}.")
        if self.scope is not None:
            if not tags:
                raise AccessDeniedError(
                    f"{self.who} can write only some scope tags, not an unscoped secret. "
                    "Name its tags in 'scope'."
                )
            self.check_scope(tags)

    def check_secret(self, secret: Secret, *codenames: str) -> None:
        """Visibility (``NotVisibleError``), then each codename over this secret (``AccessDeniedError``)."""
        envs, scope = secret.env_slugs(), secret.scope
        if not self.sees(envs, scope):
            raise NotVisibleError()
        for codename in codenames:
            self.require(codename)
            if codename in SECRET_WRITE:
                self.check_write(envs, scope, codename)
            elif not self.sees(envs, scope, codename):
                raise AccessDeniedError(f"{self.who} cannot do this in the environments this secret serves.")

    def check_reshape(self, *, creating: bool = False) -> None:
        """A principal limited to scope tags creates no secret and changes no envs or scope.

        Issue #10 finding 3: an environment-specific secret overrides the global secret of
        its key for every consumer of that environment, including the consumers that load
        without a scope (they see every scope), which a scope-limited writer does not
        reach; and key uniqueness spans scopes, so the outcome would also reveal secrets
        of other scopes. A writer limited only by environments reaches every consumer of
        its environments, so nothing it writes changes what others receive.
        """
        if self.scope is None:
            return
        what = "create secrets" if creating else "change a secret's environments or scope"
        raise AccessDeniedError(
            f"{self.who} is limited to scope tags, so it cannot {what}: overrides and key "
            "uniqueness span every scope. Ask a principal that reaches every scope."
        )

    def reaches_audience(self, version: SecretVersion, codename: str = "view_secret") -> bool:
        """Whether the value of ``version`` was written for an audience this principal reads.

        Issue #10 finding 9: a rollback must not hand a value to a principal that could not
        read it when it was written. Versions from before migration 0002 record no audience:
        only a principal unrestricted in environments and scope reaches those.
        """
        mine = self._envs_for(codename)
        if mine is False:
            return False
        if version.audience_envs is None or version.audience_scope is None:
            return mine is None and self.scope is None
        env_ids = {uuid.UUID(str(pk)) for pk in version.audience_envs}
        env_ok = mine is None or not env_ids or bool(env_ids & self._ids(mine))
        tags = set(version.audience_scope)
        scope_ok = self.scope is None or not tags or bool(tags & self.scope)
        return env_ok and scope_ok

    def _ids(self, envs: EnvSet) -> frozenset[Any]:
        """The ids of ``envs`` (one query when only the slugs were known)."""
        if envs.ids is not None:
            return envs.ids
        from secretvault.models import Environment

        found = Environment.objects.filter(workspace_id=self.workspace_id, slug__in=sorted(envs.slugs))
        return frozenset(found.values_list("pk", flat=True))

    def secrets_q(self, codename: str = "view_secret") -> Q:
        """The SQL condition of what ``codename`` sees among this workspace's secrets."""
        from secretvault.models import SecretEnvironment

        envs = self._envs_for(codename)
        if envs is False:
            return Q(pk__in=[])
        condition = Q(workspace_id=self.workspace_id)
        if isinstance(envs, EnvSet):
            through = SecretEnvironment.objects.filter(secret_id=OuterRef("pk"))
            named = through.filter(environment__slug__in=sorted(envs.slugs))
            condition &= Q(~Exists(through) | Exists(named))
        return condition

    def filter_secrets(self, qs: SecretQuerySet, codename: str = "view_secret") -> SecretQuerySet:
        """Only what ``codename`` sees, in SQL (no query of its own)."""
        qs = qs.filter(self.secrets_q(codename))
        if self.scope is not None and self._envs_for(codename) is not False:
            qs = qs.for_scope(sorted(self.scope))
        return qs


def _require(held: Iterable[str], codenames: Iterable[str], *, is_token: bool) -> None:
    held = set(held)
    for codename in codenames:
        if codename in held:
            continue
        if is_token:
            if codename in TOKEN_WRITE:
                raise AccessDeniedError("This service token is read-only.")
            raise AccessDeniedError("Service tokens cannot use this endpoint.")
        raise AccessDeniedError("You do not have permission to perform this action.")


class Principal:
    """Who is asking: a person, a token, or the system. Caches its grants (one or two queries)."""

    def __init__(self, *, user: Any = None, token: ServiceToken | None = None) -> None:
        self.user = user
        self.token = token
        self._reaches: dict[Any, Reach] = {}
        self._global: frozenset[str] | None = None
        self._memberships: dict[Any, dict[str, Envs]] | None = None

    def __repr__(self) -> str:
        if self.token is not None:
            return f"<Principal token:{self.token.token_id}>"
        if self.user is not None:
            return f"<Principal user:{self.user.get_username()}>"
        return "<Principal system>"

    @property
    def is_system(self) -> bool:
        return self.user is None and self.token is None

    @property
    def is_token(self) -> bool:
        return self.token is not None

    @property
    def is_unrestricted(self) -> bool:
        """The system and active superusers: every codename, everywhere."""
        if self.is_system:
            return True
        user = self.user
        return bool(user is not None and user.is_active and getattr(user, "is_superuser", False))

    # -- grants ------------------------------------------------------------------------

    def global_codenames(self) -> frozenset[str]:
        """The secretvault codenames this person holds in every workspace (model permissions)."""
        if self._global is None:
            user = self.user
            if user is None or not user.is_active:
                self._global = frozenset()
            else:
                prefix = f"{APP_LABEL}."
                self._global = frozenset(
                    perm[len(prefix) :] for perm in user.get_all_permissions() if perm.startswith(prefix)
                )
        return self._global

    def memberships(self) -> dict[Any, dict[str, Envs]]:
        """``{workspace_id: {codename: envs}}`` from the person's and their groups' rows (one query)."""
        if self._memberships is None:
            from secretvault.models import WorkspaceMember

            grants: dict[Any, dict[str, Envs]] = {}
            user = self.user
            if user is not None and user.is_active and user.pk is not None:
                rows = (
                    WorkspaceMember.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
                    .order_by()
                    .values_list("pk", "workspace_id", "role", "envs__id", "envs__slug")
                )
                members: dict[Any, tuple[Any, str, set[tuple[Any, str]]]] = {}
                for pk, workspace_id, role, env_id, env_slug in rows:
                    entry = members.setdefault(pk, (workspace_id, role, set()))
                    if env_id is not None:
                        entry[2].add((env_id, env_slug))
                for workspace_id, role, envs in members.values():
                    env_set: Envs = (
                        EnvSet(frozenset(pk for pk, _ in envs), frozenset(slug for _, slug in envs))
                        if envs and role != "admin"
                        else None
                    )
                    held = grants.setdefault(workspace_id, {})
                    for codename in ROLE_PERMISSIONS.get(role, frozenset()):
                        held[codename] = _union(held[codename], env_set) if codename in held else env_set
            self._memberships = grants
        return self._memberships

    def token_codenames(self) -> frozenset[str]:
        token = self.token
        if token is None:
            return frozenset()
        return TOKEN_READ | (TOKEN_WRITE if token.can_write else frozenset())

    def reaches(self, workspace: Workspace | Any) -> bool:
        """Whether ``workspace`` exists for this principal (for a token: no query)."""
        if self.token is not None and not self.is_unrestricted:
            return self.token.workspace_id == getattr(workspace, "pk", workspace)
        return self.reach(workspace).reaches

    def require(self, workspace: Workspace | Any, *codenames: str) -> None:
        """``AccessDeniedError`` unless every codename is held in ``workspace`` (for a token: no query)."""
        if self.token is not None:
            _require(self.token_codenames(), codenames, is_token=True)
        else:
            self.reach(workspace).require(*codenames)

    def know_token_envs(self, slugs: frozenset[str] | None) -> None:
        """Take the token's environment slugs from a query already run (the ``load`` state)."""
        token = self.token
        if token is None or slugs is None or token.workspace_id in self._reaches:
            return
        self._reaches[token.workspace_id] = self._token_reach(token, EnvSet(None, slugs) if slugs else None)

    def reach(self, workspace: Workspace | Any) -> Reach:
        """This principal's ``Reach`` in ``workspace`` (a ``Workspace`` or its id), cached."""
        workspace_id = getattr(workspace, "pk", workspace)
        cached = self._reaches.get(workspace_id)
        if cached is None:
            cached = self._reaches[workspace_id] = self._build_reach(workspace_id)
        return cached

    def _build_reach(self, workspace_id: Any) -> Reach:
        from secretvault.models import Environment

        if self.is_unrestricted:
            return Reach(workspace_id, dict.fromkeys(ADMIN | _ALL_CODENAMES))
        token = self.token
        if token is not None:
            if token.workspace_id != workspace_id:
                return Reach(workspace_id, {}, token=token)
            rows = list(Environment.objects.filter(tokens=token).order_by().values_list("pk", "slug"))
            envs: Envs = (
                EnvSet(frozenset(pk for pk, _ in rows), frozenset(slug for _, slug in rows)) if rows else None
            )
            return self._token_reach(token, envs)
        perms: dict[str, Envs] = dict.fromkeys(self.global_codenames())
        for codename, envs in self.memberships().get(workspace_id, {}).items():
            perms[codename] = _union(perms[codename], envs) if codename in perms else envs
        return Reach(workspace_id, perms)

    def require_global(self, codename: str) -> None:
        """``AccessDeniedError`` unless ``codename`` is held everywhere (e.g. ``add_workspace``)."""
        if self.is_unrestricted or (self.token is None and codename in self.global_codenames()):
            return
        if self.token is not None:
            raise AccessDeniedError("Service tokens cannot use this endpoint.")
        raise AccessDeniedError("You do not have permission to perform this action.")

    def _token_reach(self, token: ServiceToken, envs: Envs) -> Reach:
        scope = frozenset(token.scope) if token.scope else None
        return Reach(
            token.workspace_id, dict.fromkeys(self.token_codenames(), envs), scope=scope, token=token
        )

    def filter_environments(self, qs: QuerySet, codename: str = "view_environment") -> QuerySet:
        """Environments of every workspace that ``codename`` reaches, in SQL (the admin's lists)."""
        ids = self.workspace_ids(codename)
        if ids is None:
            return qs
        condition = Q(pk__in=[])
        for workspace_id in ids:
            condition |= self.reach(workspace_id).environments_q(codename)
        return qs.filter(condition)

    # -- many workspaces (lists) -------------------------------------------------------------

    def workspace_ids(self, codename: str | None = None) -> set[Any] | None:
        """Workspaces where ``codename`` (any codename for ``None``) is held; ``None``: all of them."""
        if self.is_unrestricted:
            return None
        if self.token is not None:
            held = TOKEN_READ | (TOKEN_WRITE if self.token.can_write else frozenset())
            return {self.token.workspace_id} if codename is None or codename in held else set()
        global_ = self.global_codenames()
        if (codename is None and global_) or codename in global_:
            return None
        return {ws for ws, perms in self.memberships().items() if codename is None or codename in perms}

    def workspace_ids_any(self, *codenames: str) -> set[Any] | None:
        """Workspaces where at least one of ``codenames`` is held; ``None``: all of them."""
        ids: set[Any] = set()
        for codename in codenames:
            held = self.workspace_ids(codename)
            if held is None:
                return None
            ids |= held
        return ids

    def with_counts(self, workspaces: QuerySet) -> QuerySet:
        """``workspaces`` annotated with what this principal sees of each, in one query (SPEC §9).

        ``env_count`` (environments it may view), ``secret_count`` (secrets it may view) and
        ``token_count`` (tokens, where it may view or change them): a member restricted to
        ``dev`` is not told of ``prd`` secrets, nor of tokens it cannot list. Used by the
        admin's and the CLI's workspace lists.
        """
        from django.db.models import Count

        from secretvault.models import Environment, Secret

        if self.is_unrestricted:
            return workspaces.annotate(
                env_count=Count("environments", distinct=True),
                secret_count=Count("secrets", distinct=True),
                token_count=Count("tokens", distinct=True),
            )
        envs = self.filter_environments(Environment.objects.all()).values("pk")
        secrets = self.filter_secrets(Secret.objects.all()).values("pk")
        token_workspaces = self.workspace_ids_any("view_servicetoken", "change_servicetoken")
        tokens = None if token_workspaces is None else Q(pk__in=token_workspaces)
        return workspaces.annotate(
            env_count=Count("environments", filter=Q(environments__in=envs), distinct=True),
            secret_count=Count("secrets", filter=Q(secrets__in=secrets), distinct=True),
            token_count=Count("tokens", filter=tokens, distinct=True),
        )

    def filter_workspaces(self, qs: QuerySet, codename: str | None = None, field: str = "pk") -> QuerySet:
        """Rows of ``qs`` whose workspace (``field``) this principal reaches (for ``codename``)."""
        ids = self.workspace_ids(codename)
        return qs if ids is None else qs.filter(**{f"{field}__in": ids})

    def filter_secrets(self, qs: SecretQuerySet, codename: str = "view_secret") -> SecretQuerySet:
        """Secrets of every workspace that ``codename`` sees, in SQL (for the admin's lists)."""
        if self.token is not None:
            return self.reach(self.token.workspace_id).filter_secrets(qs, codename)
        if codename == "view_secret":
            ids = self.workspace_ids_any(*sorted(SECRET_SIGHT))
        else:
            ids = self.workspace_ids(codename)
        if ids is None:
            return qs
        condition = Q(pk__in=[])
        for workspace_id in ids:
            condition |= self.reach(workspace_id).secrets_q(codename)
        return qs.filter(condition)


_ALL_CODENAMES = frozenset(
    {
        "add_workspace",
        "change_workspace",
        "delete_workspace",
        "view_workspace",
        "change_servicetoken",
        "delete_servicetoken",
        "add_auditevent",
        "change_auditevent",
        "delete_auditevent",
    }
)

SYSTEM = Principal()


def principal_for_user(user: Any) -> Principal:
    """The principal of a Django user, cached on the user object (one request's lifetime)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return _NOBODY
    cached = getattr(user, "_secretvault_principal", None)
    if cached is None:
        cached = Principal(user=user)
        user._secretvault_principal = cached
    return cached


def forget_principal(user: Any) -> None:
    """Drop ``user``'s cached principal, after a change to their own memberships."""
    if user is not None:
        user.__dict__.pop("_secretvault_principal", None)


def principal_for_token(token: ServiceToken) -> Principal:
    cached = getattr(token, "_secretvault_principal", None)
    if cached is None:
        cached = Principal(token=token)
        token.__dict__["_secretvault_principal"] = cached
    return cached


def principal_for_actor(actor: Actor | None) -> Principal:
    """The principal behind a services ``Actor``: its token, else its user, else the system."""
    if actor is None:
        return SYSTEM
    if actor.token is not None:
        return principal_for_token(actor.token)
    if actor.user is not None:
        return principal_for_user(actor.user)
    return SYSTEM


def principal_for_request(request: Any) -> Principal:
    """The principal of a request: the service token it authenticated with, else its user."""
    from secretvault.models import ServiceToken

    auth = getattr(request, "auth", None)
    if isinstance(auth, ServiceToken):
        return principal_for_token(auth)
    return principal_for_user(getattr(request, "user", None))


class _Nobody(Principal):
    """An anonymous visitor: reaches nothing."""

    @property
    def is_system(self) -> bool:
        return False

    @property
    def is_unrestricted(self) -> bool:
        return False

    def global_codenames(self) -> frozenset[str]:
        return frozenset()

    def memberships(self) -> dict[Any, dict[str, Envs]]:
        return {}


_NOBODY = _Nobody()
