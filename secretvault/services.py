"""The write paths. The admin, the API and the CLI all come through here.

Every function that changes state runs in one transaction, writes its audit
event in that transaction, and sends its signal only after commit.

Locking order, to stay free of deadlocks: the workspace row first (taken by
writes that can create a key conflict, and by rotation), then secret rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from secretvault import access, audit, signals
from secretvault.access import Reach
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.errors import (
    AccessDeniedError,
    AmbiguousSecretError,
    DuplicateKeyError,
    UnknownVersionError,
    VersionMismatchError,
)
from secretvault.models import (
    Environment,
    Secret,
    SecretEnvironment,
    SecretVersion,
    ServiceToken,
    TokenType,
    VersionAction,
    Workspace,
)

# The read path lives in secretvault.reads, workspaces and environments in
# secretvault.workspaces; services stays the doors' one entry point.
from secretvault.reads import (  # noqa: E402, F401 (re-exported)
    decrypt_resolved,
    load,
    load_etag,
    load_state,
    load_target,
    load_target_now,
    record_load,
    resolved_fingerprint,
    reveal,
    stats,
    target_within,
)
from secretvault.validators import (
    UNSET,
    field_errors,
    validate_future,
    validate_key,
    validate_scope,
    validate_text,
    validate_value,
)
from secretvault.workspaces import (  # noqa: F401 (re-exported)
    create_environment,
    create_workspace,
    delete_environment,
    delete_workspace,
    environments_by_slug,
    update_environment,
)


def _after_commit(func: Callable[[], Any]) -> None:
    transaction.on_commit(func, robust=True)


def _reach(workspace: Workspace | Any, actor: Actor | None) -> Reach:
    """The actor's reach in ``workspace`` (``secretvault.access``); the system reaches everything."""
    return access.principal_for_actor(actor).reach(workspace)


# --------------------------------------------------------------------------
# Secrets: lookup


def find_secret(workspace: Workspace, key: str, env: str | None = None, actor: Actor | None = None) -> Secret:
    """The secret a ``{key}`` route names, among those the actor sees.

    With ``env``: the secret specific to that environment, else the global one.
    Without: the global secret, or the only secret of that key. Raises
    ``Secret.DoesNotExist`` or ``AmbiguousSecretError``. Secrets the actor does not
    see take no part (``secretvault.access``): a route never answers differently
    because one exists.
    """
    qs = Secret.objects.serving(workspace, key, env)
    if actor is not None:
        qs = _reach(workspace, actor).filter_secrets(qs)
    candidates = list(qs.with_is_global().select_related("workspace"))
    if not candidates:
        raise Secret.DoesNotExist(f"No secret {key!r} in workspace {workspace.slug!r}.")
    specific = [secret for secret in candidates if not secret.is_global]
    globals_ = [secret for secret in candidates if secret.is_global]
    if env is not None:
        return (specific or globals_)[0]
    if globals_:
        return globals_[0]
    if len(specific) == 1:
        return specific[0]
    raise AmbiguousSecretError(
        f"Several secrets of key {key!r} serve different environments; name one with 'env'."
    )


# --------------------------------------------------------------------------
# Secrets: writes


def _lock_workspace(workspace: Workspace) -> Workspace:
    """Lock the workspace row; returns it as now committed (its current data key)."""
    return Workspace.objects.select_for_update().get(pk=workspace.pk)


def _lock_secret(secret: Secret, reach: Reach | None = None, *codenames: str) -> Secret:
    """Lock the secret row only, then read its workspace afresh.

    Reading the workspace after the lock matters: ``rotate_data_key`` locks
    every secret of the workspace, so once we hold this lock any rotation has
    either committed (we see the new data key) or not yet reached our row (it
    will wait, then re-encrypt what we write).

    A limited ``reach`` is asked again of the locked row (``check_secret(locked, *codenames)``):
    the secret may have left it since the caller's check (SPEC §9; raises as that does).
    """
    locked = Secret.objects.select_for_update(of=("self",)).get(pk=secret.pk)
    if reach is not None and reach.limited:
        reach.check_secret(locked, *codenames)
    locked.workspace = Workspace.objects.get(pk=locked.workspace_id)
    return locked


def _check_key_free(
    workspace: Workspace, key: str, envs: list[Environment], exclude: Secret | None = None
) -> None:
    """Two secrets may share a key only if their environment sets are disjoint.

    A global secret (no envs) and environment-specific ones coexist: that is the
    override. The caller holds the workspace lock, so the check is race-free.
    """
    others = Secret.objects.filter(workspace=workspace, key=key)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if not envs:
        if others.global_only().exists():
            raise DuplicateKeyError(f"A global secret {key!r} already exists in this workspace.")
        return
    clash = (
        SecretEnvironment.objects.filter(secret__in=others, environment__in=envs)
        .values_list("environment__slug", flat=True)
        .order_by("environment__slug")
    )
    taken = sorted(set(clash))
    if taken:
        raise DuplicateKeyError(
            f"A secret {key!r} already serves environment(s) {', '.join(taken)} in this workspace."
        )


def _metadata_checks(
    workspace: Workspace,
    *,
    description: Any = UNSET,
    token_type: Any = UNSET,
    scope: Any = UNSET,
    envs: Any = UNSET,
    expires_at: Any = UNSET,
) -> dict[str, Any]:
    def check_description() -> str:
        if not isinstance(description, str):
            raise ValidationError("The description must be a string.", code="invalid")
        return validate_text(description)

    def check_token_type() -> str:
        if token_type not in TokenType.values:
            raise ValidationError(
                f"Token type must be one of: {', '.join(repr(v) for v in TokenType.values)}.",
                code="invalid_choice",
            )
        return token_type

    def check_envs() -> list[Environment]:
        if isinstance(envs, str) or not isinstance(envs, Iterable):
            raise ValidationError("Environments must be a list of slugs.", code="invalid")
        return environments_by_slug(workspace, envs)

    checks: dict[str, Callable[[], Any]] = {}
    if description is not UNSET:
        checks["description"] = check_description
    if token_type is not UNSET:
        checks["token_type"] = check_token_type
    if scope is not UNSET:
        checks["scope"] = lambda: validate_scope(scope)
    if envs is not UNSET:
        checks["envs"] = check_envs
    if expires_at is not UNSET:
        checks["expires_at"] = lambda: validate_future(expires_at)
    return checks


@sensitive_variables()
def _write_version(
    secret: Secret,
    value: str,
    action: str,
    actor: Actor | None,
    source_version: int | None = None,
) -> SecretVersion:
    """Append version ``current + 1``. The caller holds the secret's row lock."""
    actor = actor or audit.SYSTEM
    number = secret.current_version + 1
    data_key_id, blob = secret.encrypt(value, number)
    audience = (
        SecretEnvironment.objects.filter(secret=secret).order_by().values_list("environment_id", flat=True)
    )
    version = SecretVersion.objects.create(
        secret=secret,
        version=number,
        ciphertext=blob,
        data_key_id=data_key_id,
        action=action,
        source_version=source_version,
        created_by=actor.user,  # type: ignore[misc]  # stubs read AUTH_USER_MODEL as auth.User; any fits
        created_by_token=actor.token,
        audience_envs=sorted(str(pk) for pk in audience),
        audience_scope=list(secret.scope or []),
    )
    now = timezone.now()
    Secret.objects.filter(pk=secret.pk).update(current_version=number, updated_at=now)
    secret.current_version = number
    secret.updated_at = now
    keep = vault_settings.MAX_VERSIONS
    if keep:
        SecretVersion.objects.filter(secret=secret, version__lte=number - keep).delete()
    return version


def _changed(secret: Secret, action: str, actor: Actor | None) -> None:
    version = secret.current_version
    _after_commit(
        lambda: signals.secret_changed.send(
            sender=Secret, secret=secret, action=action, version=version, actor=actor
        )
    )


@sensitive_variables()
def create_secret(
    workspace: Workspace,
    *,
    key: str,
    value: str,
    description: str = "",
    token_type: str = "",
    scope: Iterable[str] | None = None,
    envs: Iterable[str] | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
    action: str = VersionAction.CREATE,
) -> Secret:
    """Create a secret with version 1. ``envs`` are environment slugs.

    Raises ``AccessDeniedError`` when ``actor`` may not write there (an environment out of
    its reach is refused before environments are looked up: ``Reach.check_named_envs``),
    ``ValidationError`` for bad input, ``DuplicateKeyError`` for a key taken there.
    """
    reach = _reach(workspace, actor)
    reach.check_named_envs(envs, "add_secret")
    meta = field_errors(
        {
            "key": lambda: validate_key(key),
            "value": lambda: validate_value(value),
            **_metadata_checks(
                workspace,
                description=description,
                token_type=token_type,
                scope=scope or [],
                envs=envs or [],
                expires_at=expires_at,
            ),
        }
    )
    reach.check_write([env.slug for env in meta["envs"]], meta["scope"], "add_secret")
    reach.check_reshape(creating=True)
    with transaction.atomic():
        workspace = _lock_workspace(workspace)
        _check_key_free(workspace, key, meta["envs"])
        secret = Secret(
            workspace=workspace,
            key=key,
            description=meta["description"],
            token_type=meta["token_type"],
            scope=meta["scope"],
            expires_at=meta["expires_at"],
            expiry_set_by_token=actor is not None
            and actor.token is not None
            and meta["expires_at"] is not None,
        )
        secret.save(force_insert=True)
        secret.envs.set(meta["envs"])
        _write_version(secret, value, action, actor)
        audit.record(
            "secret.create",
            workspace=workspace,
            actor=actor,
            key=key,
            version=secret.current_version,
            detail={"envs": [env.slug for env in meta["envs"]], "scope": meta["scope"]},
        )
    _changed(secret, "secret.create", actor)
    return secret


@sensitive_variables()
def update_secret(
    secret: Secret,
    *,
    value: Any = UNSET,
    description: Any = UNSET,
    token_type: Any = UNSET,
    scope: Any = UNSET,
    envs: Any = UNSET,
    expires_at: Any = UNSET,
    expected_version: int | None = None,
    actor: Actor | None = None,
    action: str = VersionAction.UPDATE,
) -> Secret:
    """Change metadata and/or the value.

    A value different from the current one creates exactly one new version; an
    equal value or a metadata-only change creates none. ``expected_version``
    makes it a check-and-set (``VersionMismatchError`` when it is stale).
    """
    workspace = secret.workspace
    reach = _reach(workspace, actor)
    if envs is not UNSET:
        reach.check_named_envs(envs, "change_secret")
    checks = _metadata_checks(
        workspace,
        description=description,
        token_type=token_type,
        scope=scope,
        envs=envs,
        expires_at=expires_at,
    )
    if value is not UNSET:
        checks["value"] = lambda: validate_value(value)
    meta = field_errors(checks)
    reach.check_secret(secret, "change_secret")
    old_envs, old_scope = secret.env_slugs(), list(secret.scope or [])
    new_envs = [env.slug for env in meta["envs"]] if "envs" in meta else old_envs
    new_scope = meta.get("scope", old_scope)
    if "envs" in meta or "scope" in meta:
        reach.check_write(new_envs, new_scope, "change_secret")
        if set(new_envs) != set(old_envs) or sorted(new_scope) != sorted(old_scope):
            reach.check_reshape()
    with transaction.atomic():
        if "envs" in meta:
            _lock_workspace(workspace)
        locked = _lock_secret(secret, reach, "change_secret")
        if expected_version is not None and expected_version != locked.current_version:
            raise VersionMismatchError(expected_version, locked.current_version)
        if "expires_at" in meta and meta["expires_at"] != locked.expires_at:
            _check_token_may_change_expiry(locked, meta["expires_at"], actor)
            locked.expiry_set_by_token = actor is not None and actor.token is not None
        changed_fields = []
        if "envs" in meta:
            current = set(locked.envs.values_list("pk", flat=True))
            if current != {env.pk for env in meta["envs"]}:
                _check_key_free(workspace, locked.key, meta["envs"], exclude=locked)
                locked.envs.set(meta["envs"])
                changed_fields.append("envs")
        for name in ("description", "token_type", "scope", "expires_at"):
            if name in meta and getattr(locked, name) != meta[name]:
                setattr(locked, name, meta[name])
                changed_fields.append(name)
        if changed_fields:
            fields = [f for f in changed_fields if f != "envs"] + ["updated_at"]
            if "expires_at" in changed_fields:
                fields.append("expiry_set_by_token")
            locked.save(update_fields=fields)
        value_changed = False
        if value is not UNSET and value != _current_value(locked):
            _write_version(locked, value, action, actor)
            value_changed = True
        if changed_fields or value_changed:
            audit.record(
                "secret.update",
                workspace=locked.workspace,
                actor=actor,
                key=locked.key,
                version=locked.current_version,
                detail={"fields": changed_fields, "value_changed": value_changed},
            )
    if changed_fields or value_changed:
        _changed(locked, "secret.update", actor)
    _refresh_from(secret, locked)
    return secret


def _check_token_may_change_expiry(secret: Secret, new: dt.datetime | None, actor: Actor | None) -> None:
    """A token may not extend or clear an expiry that a person set (issue #10 finding 8)."""
    if actor is None or actor.token is None or secret.expires_at is None or secret.expiry_set_by_token:
        return
    if new is None or new > secret.expires_at:
        raise AccessDeniedError(
            "A person set this secret's expiry; a service token cannot extend or clear it."
        )


def _refresh_from(target: Secret, source: Secret) -> None:
    for field in (
        "description",
        "token_type",
        "scope",
        "expires_at",
        "expiry_set_by_token",
        "current_version",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))
    target._prefetched_objects_cache = {}  # type: ignore[attr-defined]  # Django's prefetch cache


@sensitive_variables()
def _current_value(secret: Secret) -> str | None:
    if secret.current_version == 0:
        return None
    version = SecretVersion.objects.get(secret=secret, version=secret.current_version)
    return secret.decrypt(version.ciphertext, version.version)


@sensitive_variables()
def set_value(
    secret: Secret,
    value: str,
    *,
    actor: Actor | None = None,
    expected_version: int | None = None,
    action: str = VersionAction.UPDATE,
) -> Secret:
    """Write a new value (a no-op when it equals the current one)."""
    return update_secret(secret, value=value, actor=actor, expected_version=expected_version, action=action)


@sensitive_variables()
def rollback(
    secret: Secret, version: int, actor: Actor | None = None, *, expected_version: int | None = None
) -> Secret:
    """Write version latest+1 holding version ``version``'s value, ``source_version=version``;
    ``expected_version`` makes it a check-and-set (``VersionMismatchError``), as for updates.

    Needs ``change_secret`` and ``rollback_secret`` over the secret (one rule for every
    door, issue #10 finding 7), and a reach covering the audience version ``version`` was
    written for (``Reach.reaches_audience``, finding 9).
    """
    reach = _reach(secret.workspace_id, actor)
    reach.check_secret(secret, "change_secret", "rollback_secret")
    with transaction.atomic():
        locked = _lock_secret(secret, reach, "change_secret", "rollback_secret")
        if expected_version is not None and expected_version != locked.current_version:
            raise VersionMismatchError(expected_version, locked.current_version)
        source = SecretVersion.objects.filter(secret=locked, version=version).first()
        if source is None:
            raise UnknownVersionError(f"Secret {locked.key!r} has no version {version}.")
        if not reach.reaches_audience(source):
            raise AccessDeniedError(
                f"Version {version} was written for environments or scope tags beyond your reach; "
                "it cannot be rolled back to by you."
            )
        value = locked.decrypt(source.ciphertext, source.version)
        _write_version(locked, value, VersionAction.ROLLBACK, actor, source_version=version)
        audit.record(
            "secret.rollback",
            workspace=locked.workspace,
            actor=actor,
            key=locked.key,
            version=locked.current_version,
            detail={"source_version": version},
        )
    _changed(locked, "secret.rollback", actor)
    _refresh_from(secret, locked)
    return secret


def _set_revoked(secret: Secret, revoked: bool, actor: Actor | None) -> bool:
    action = "secret.revoke" if revoked else "secret.restore"
    reach = _reach(secret.workspace_id, actor)
    reach.check_secret(secret, "change_secret")
    by_token = actor is not None and actor.token is not None
    with transaction.atomic():
        locked = _lock_secret(secret, reach, "change_secret")
        if locked.is_revoked == revoked:
            return False
        if not revoked and by_token and not locked.revoked_by_token:
            # Issue #10 finding 8: the token a person's revocation was meant to stop cannot lift it.
            raise AccessDeniedError("A person revoked this secret; a service token cannot restore it.")
        locked.revoked_at = timezone.now() if revoked else None
        locked.revoked_by_token = revoked and by_token
        locked.save(update_fields=["revoked_at", "revoked_by_token", "updated_at"])
        audit.record(
            action, workspace=locked.workspace, actor=actor, key=locked.key, version=locked.current_version
        )
    secret.revoked_at = locked.revoked_at
    secret.revoked_by_token = locked.revoked_by_token
    _changed(secret, action, actor)
    return True


def revoke_secret(secret: Secret, actor: Actor | None = None) -> bool:
    """Disable without deleting. Returns False when it was already revoked."""
    return _set_revoked(secret, True, actor)


def restore_secret(secret: Secret, actor: Actor | None = None) -> bool:
    """Re-enable a revoked secret. Returns False when it was not revoked."""
    return _set_revoked(secret, False, actor)


def delete_secret(secret: Secret, actor: Actor | None = None) -> None:
    """Delete the secret and every version of it, for good.

    A service token cannot delete a secret carrying a revocation or an expiry that a
    person set: deleting and re-creating it would lift them (issue #10 finding 8).
    """
    reach = _reach(secret.workspace_id, actor)
    reach.check_secret(secret, "delete_secret")
    with transaction.atomic():
        locked = _lock_secret(secret, reach, "delete_secret")
        if actor is not None and actor.token is not None:
            if (locked.is_revoked and not locked.revoked_by_token) or (
                locked.expires_at is not None and not locked.expiry_set_by_token
            ):
                raise AccessDeniedError(
                    "A person revoked this secret or set its expiry; a service token cannot delete it."
                )
        envs = locked.env_slugs()
        locked.delete()
        audit.record(
            "secret.delete",
            workspace=locked.workspace,
            actor=actor,
            key=locked.key,
            version=locked.current_version,
            detail={"envs": envs},
        )
    _changed(secret, "secret.delete", actor)


# --------------------------------------------------------------------------
# Service tokens


def create_token(
    workspace: Workspace,
    *,
    name: str,
    description: str = "",
    envs: Iterable[str] | None = None,
    scope: Iterable[str] | None = None,
    can_write: bool = False,
    expires_at: dt.datetime | None = None,
    actor: Actor | None = None,
) -> tuple[ServiceToken, str]:
    """Create a token; returns ``(token, raw)``. Show ``raw`` once: only its digest is kept.

    Nobody mints a token reaching more than they do (issue #10 finding 1, SPEC §9): the
    creator needs ``add_servicetoken``; every token reads values, so the creator needs
    ``view_secret`` and ``reveal_secret`` over the token's environments; ``can_write``
    needs ``add``, ``change``, ``delete`` and ``rollback_secret`` over them too.
    ``AccessDeniedError`` otherwise.
    """

    def check_name() -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("A token needs a name.", code="required")
        if len(name) > 200:
            raise ValidationError("Names are at most 200 characters.", code="max_length")
        return validate_text(name.strip())

    cleaned = field_errors(
        {
            "name": check_name,
            "description": lambda: validate_text(description),
            "envs": lambda: environments_by_slug(workspace, envs or []),
            "scope": lambda: validate_scope(scope or []),
            "expires_at": lambda: validate_future(expires_at),
        }
    )
    _check_token_within_reach(_reach(workspace, actor), cleaned["envs"], bool(can_write))
    actor = actor or audit.SYSTEM
    with transaction.atomic():
        token, raw = ServiceToken.objects.create(
            workspace=workspace,
            name=cleaned["name"],
            description=description,
            envs=cleaned["envs"],
            scope=cleaned["scope"],
            can_write=bool(can_write),
            expires_at=cleaned["expires_at"],
            created_by=actor.user,
        )
        audit.record(
            "token.create",
            workspace=workspace,
            actor=actor,
            detail={
                "token_id": token.token_id,
                "name": token.name,
                "envs": [env.slug for env in cleaned["envs"]],
                "scope": cleaned["scope"],
                "can_write": token.can_write,
            },
        )
    return token, raw


def _check_token_within_reach(reach: Reach, envs: list[Environment], can_write: bool) -> None:
    reach.require("add_servicetoken")
    wanted = (
        access.EnvSet(frozenset(env.pk for env in envs), frozenset(env.slug for env in envs))
        if envs
        else None
    )
    needed = ["view_secret", "reveal_secret"] + (sorted(access.SECRET_WRITE) if can_write else [])
    for codename in needed:
        if not reach.has(codename):
            what = "write secrets" if codename in access.SECRET_WRITE else "reveal values"
            raise AccessDeniedError(f"You cannot create a token that can {what}: you cannot {what} yourself.")
        if not reach.covers(codename, wanted):
            raise AccessDeniedError(
                "You cannot create a token reaching environments you do not reach yourself; "
                "limit it to environments you reach."
            )


def revoke_token(token: ServiceToken, actor: Actor | None = None) -> bool:
    """Revoke at once and irreversibly. Returns False when it was already revoked."""
    _reach(token.workspace_id, actor).require("revoke_servicetoken")
    with transaction.atomic():
        if not token.revoke():
            return False
        audit.record(
            "token.revoke", workspace=token.workspace, actor=actor, detail={"token_id": token.token_id}
        )
    _after_commit(lambda: signals.token_revoked.send(sender=ServiceToken, token=token, actor=actor))
    return True


# --------------------------------------------------------------------------
# Bulk jobs (import, rotate_master_key, rotate_data_key) live in secretvault.bulk,
# one layer up: batched, so that no request waits for a whole job.

# Names the bulk jobs use.
lock_workspace = _lock_workspace
check_key_free = _check_key_free
current_value = _current_value
