"""The write paths. The admin, the API and the CLI all come through here.

Every function that changes state runs in one transaction, writes its audit
event in that transaction, and sends its signal only after commit.

Locking order, to stay free of deadlocks: the workspace row first (taken by
writes that can create a key conflict, and by rotation), then secret rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from secretvault import audit, crypto, signals
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.errors import (
    AmbiguousSecretError,
    ConflictError,
    CryptoError,
    DuplicateKeyError,
    InUseError,
    UnknownVersionError,
    VersionMismatchError,
)
from secretvault.managers import LoadState, ResolvedSecret
from secretvault.models import (
    Environment,
    Secret,
    SecretEnvironment,
    SecretVersion,
    ServiceToken,
    TokenType,
    VersionAction,
    Workspace,
    WorkspaceHead,
)
from secretvault.validators import (
    validate_future,
    validate_key,
    validate_scope,
    validate_slug,
    validate_value,
)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _field_errors(checks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run each check; return cleaned values or raise one ``ValidationError`` naming every field."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return cleaned


def _after_commit(func: Callable[[], Any]) -> None:
    transaction.on_commit(func, robust=True)


# --------------------------------------------------------------------------
# Workspaces and environments


def create_workspace(*, slug: str, name: str = "", actor: Actor | None = None) -> Workspace:
    _field_errors({"slug": lambda: validate_slug(slug)})
    try:
        with transaction.atomic():
            workspace = Workspace(slug=slug, name=name or slug)
            workspace.save(force_insert=True)
            audit.record("workspace.create", workspace=workspace, actor=actor, detail={"slug": slug})
    except IntegrityError:
        raise ConflictError(f"A workspace with slug {slug!r} already exists.") from None
    return workspace


def delete_workspace(workspace: Workspace, actor: Actor | None = None) -> None:
    try:
        with transaction.atomic():
            slug, pk = workspace.slug, str(workspace.pk)
            workspace.delete()
            # The workspace (and its audit chain key) is gone: a global, unchained event.
            audit.record("workspace.delete", workspace=None, actor=actor, detail={"slug": slug, "id": pk})
    except ProtectedError:
        raise InUseError(
            f"Workspace {workspace.slug!r} still holds secrets or service tokens; delete them first."
        ) from None


def create_environment(
    workspace: Workspace, *, slug: str, name: str = "", actor: Actor | None = None
) -> Environment:
    _field_errors({"slug": lambda: validate_slug(slug)})
    try:
        with transaction.atomic():
            env = Environment.objects.create(workspace=workspace, slug=slug, name=name or slug)
            audit.record("environment.create", workspace=workspace, actor=actor, detail={"slug": slug})
    except IntegrityError:
        raise ConflictError(f"Workspace {workspace.slug!r} already has an environment {slug!r}.") from None
    return env


def update_environment(
    env: Environment, *, slug: str = UNSET, name: str = UNSET, actor: Actor | None = None
) -> Environment:
    if slug is not UNSET:
        _field_errors({"slug": lambda: validate_slug(slug)})
        env.slug = slug
    if name is not UNSET:
        env.name = name
    try:
        with transaction.atomic():
            env.save()
            audit.record(
                "environment.update", workspace=env.workspace, actor=actor, detail={"slug": env.slug}
            )
    except IntegrityError:
        raise ConflictError(f"The workspace already has an environment {env.slug!r}.") from None
    return env


def delete_environment(env: Environment, actor: Actor | None = None) -> None:
    """Refused while a secret or token names it: dropping it would widen them to every env."""
    try:
        with transaction.atomic():
            slug = env.slug
            env.delete()
            audit.record("environment.delete", workspace=env.workspace, actor=actor, detail={"slug": slug})
    except ProtectedError:
        raise InUseError(
            f"Environment {env.slug!r} is named by secrets or service tokens; removing it "
            "would make them apply to every environment. Change them first."
        ) from None


def environments_by_slug(workspace: Workspace, slugs: Iterable[str]) -> list[Environment]:
    """The workspace's environments named by ``slugs``; a ``ValidationError`` names unknown ones."""
    wanted = sorted(set(slugs))
    if not wanted:
        return []
    found = {env.slug: env for env in Environment.objects.filter(workspace=workspace, slug__in=wanted)}
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise ValidationError(
            f"Unknown environment(s) in workspace {workspace.slug!r}: {', '.join(unknown)}.",
            code="unknown_env",
        )
    return [found[slug] for slug in wanted]


# --------------------------------------------------------------------------
# Secrets: lookup


def find_secret(workspace: Workspace, key: str, env: str | None = None) -> Secret:
    """The secret a ``{key}`` route names.

    With ``env``: the secret specific to that environment, else the global one.
    Without: the global secret, or the only secret of that key. Raises
    ``Secret.DoesNotExist`` or ``AmbiguousSecretError``.
    """
    candidates = list(
        Secret.objects.serving(workspace, key, env).with_is_global().select_related("workspace")
    )
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


def _lock_secret(secret: Secret) -> Secret:
    """Lock the secret row only, then read its workspace afresh.

    Reading the workspace after the lock matters: ``rotate_data_key`` locks
    every secret of the workspace, so once we hold this lock any rotation has
    either committed (we see the new data key) or not yet reached our row (it
    will wait, then re-encrypt what we write).
    """
    locked = Secret.objects.select_for_update(of=("self",)).get(pk=secret.pk)
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
        return description

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
    version = SecretVersion.objects.create(
        secret=secret,
        version=number,
        ciphertext=blob,
        data_key_id=data_key_id,
        action=action,
        source_version=source_version,
        created_by=actor.user,
        created_by_token=actor.token,
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
    """Create a secret with version 1. ``envs`` are environment slugs."""
    meta = _field_errors(
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
    meta = _field_errors(checks)
    with transaction.atomic():
        if "envs" in meta:
            _lock_workspace(workspace)
        locked = _lock_secret(secret)
        if expected_version is not None and expected_version != locked.current_version:
            raise VersionMismatchError(expected_version, locked.current_version)
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
            locked.save(update_fields=[f for f in changed_fields if f != "envs"] + ["updated_at"])
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


def _refresh_from(target: Secret, source: Secret) -> None:
    for field in ("description", "token_type", "scope", "expires_at", "current_version", "updated_at"):
        setattr(target, field, getattr(source, field))
    target._prefetched_objects_cache = {}  # type: ignore[attr-defined]


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
def rollback(secret: Secret, version: int, actor: Actor | None = None) -> Secret:
    """Write version latest+1 holding version ``version``'s value, ``source_version=version``."""
    with transaction.atomic():
        locked = _lock_secret(secret)
        source = SecretVersion.objects.filter(secret=locked, version=version).first()
        if source is None:
            raise UnknownVersionError(f"Secret {locked.key!r} has no version {version}.")
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
    with transaction.atomic():
        locked = _lock_secret(secret)
        if locked.is_revoked == revoked:
            return False
        locked.revoked_at = timezone.now() if revoked else None
        locked.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            action, workspace=locked.workspace, actor=actor, key=locked.key, version=locked.current_version
        )
    secret.revoked_at = locked.revoked_at
    _changed(secret, action, actor)
    return True


def revoke_secret(secret: Secret, actor: Actor | None = None) -> bool:
    """Disable without deleting. Returns False when it was already revoked."""
    return _set_revoked(secret, True, actor)


def restore_secret(secret: Secret, actor: Actor | None = None) -> bool:
    """Re-enable a revoked secret. Returns False when it was not revoked."""
    return _set_revoked(secret, False, actor)


def delete_secret(secret: Secret, actor: Actor | None = None) -> None:
    """Delete the secret and every version of it, for good."""
    with transaction.atomic():
        locked = _lock_secret(secret)
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
# Secrets: reads of values


@sensitive_variables()
def reveal(secret: Secret, actor: Actor | None = None, version: int | None = None) -> str:
    """The decrypted value (current, or ``version``); audited as ``secret.reveal``."""
    number = version or secret.current_version
    stored = SecretVersion.objects.filter(secret=secret, version=number).first()
    if stored is None:
        raise UnknownVersionError(f"Secret {secret.key!r} has no version {number}.")
    value = secret.decrypt(stored.ciphertext, stored.version)
    if vault_settings.AUDIT_READS:
        audit.record("secret.reveal", workspace=secret.workspace, actor=actor, key=secret.key, version=number)
    return value


def load_state(
    workspace: Workspace,
    *,
    env: str | None = None,
    token: ServiceToken | None = None,
    now: dt.datetime | None = None,
) -> LoadState:
    """What a ``load`` needs to know before reading a secret, in one query (``LoadState``)."""
    return WorkspaceHead.objects.load_state(
        workspace.pk, env=env, token_pk=None if token is None else token.pk, now=now
    )


def resolved_fingerprint(resolved: Mapping[str, ResolvedSecret]) -> str:
    """A digest of a resolved map's identities and versions: equal exactly when the map is.

    Costs the resolve query; ``load_etag`` is the cheap validator that may change
    without the map changing (any write of the workspace).
    """
    digest = hashlib.sha256()
    for key, entry in resolved.items():
        digest.update(b"%s\x00%s\x00%d\n" % (key.encode(), entry.id_bytes, entry.current_version))
    return digest.hexdigest()[:32]


def load_etag(
    workspace: Workspace,
    state: LoadState,
    *,
    env: str | None,
    scope: Iterable[str] | None,
    principal: str = "",
) -> str:
    """A strong validator of the map ``load`` answers for ``env`` and ``scope`` (SPEC §10).

    It stands for the workspace's revision, which every write moves in its own
    transaction (a new value, rollback, metadata or environment change, revoke,
    restore, delete, token or member change), and for the latest ``expires_at``
    already passed, which grows when any secret expires with nothing written.
    Read ``state`` before the secrets: a write committed in between then makes
    the next validator differ (a spare 200), never a stale 304. ``principal``
    (the token id or user name) keeps two callers' validators apart.
    """
    expiry = "" if state.last_expiry is None else state.last_expiry.astimezone(dt.timezone.utc).isoformat()
    text = "\x00".join(
        (
            str(workspace.pk),
            str(state.revision),
            expiry,
            env or "",
            ",".join(sorted(set(scope or ()))),
            principal,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@sensitive_variables()
def decrypt_resolved(workspace: Workspace, resolved: Mapping[str, ResolvedSecret]) -> dict[str, str]:
    """Decrypt what ``Secret.objects.resolve()`` returned, with one data-key lookup.

    A ``CryptoError`` names the workspace, key and version that failed (never a value).
    """
    try:
        return crypto.decrypt_values(
            workspace.cipher(),
            workspace.data_key_id,
            workspace.id,
            (
                (key, entry.current_ciphertext, entry.id_bytes, entry.current_version)
                for key, entry in resolved.items()
            ),
            workspace.previous_ciphers(),
        )
    except CryptoError as exc:
        exc.locate(workspace=workspace.slug)
        raise


def record_load(
    workspace: Workspace, resolved: Mapping[str, ResolvedSecret], *, env: str | None, actor: Actor | None
) -> None:
    if vault_settings.AUDIT_READS:
        audit.record(
            "secrets.load",
            workspace=workspace,
            actor=actor,
            detail={"env": env, "versions": {key: s.current_version for key, s in resolved.items()}},
        )


@sensitive_variables()
def load(
    workspace: Workspace,
    env: str | None = None,
    scope: str | Iterable[str] | None = None,
    actor: Actor | None = None,
) -> dict[str, str]:
    """The resolved ``{KEY: value}`` map for ``env`` and ``scope``; audited as ``secrets.load``."""
    resolved = Secret.objects.resolve(workspace, env=env, scope=scope)
    values = decrypt_resolved(workspace, resolved)
    record_load(workspace, resolved, env=env, actor=actor)
    return values


def stats(workspace: Workspace, now: dt.datetime | None = None) -> dict[str, int]:
    """Secret counts: total, active, expired, expiring_soon, revoked (one query)."""
    return Secret.objects.filter(workspace=workspace).counts(now)


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
    """Create a token; returns ``(token, raw)``. Show ``raw`` once: only its digest is kept."""

    def check_name() -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("A token needs a name.", code="required")
        if len(name) > 200:
            raise ValidationError("Names are at most 200 characters.", code="max_length")
        return name.strip()

    cleaned = _field_errors(
        {
            "name": check_name,
            "envs": lambda: environments_by_slug(workspace, envs or []),
            "scope": lambda: validate_scope(scope or []),
            "expires_at": lambda: validate_future(expires_at),
        }
    )
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


def revoke_token(token: ServiceToken, actor: Actor | None = None) -> bool:
    """Revoke at once and irreversibly. Returns False when it was already revoked."""
    with transaction.atomic():
        if not token.revoke():
            return False
        audit.record(
            "token.revoke", workspace=token.workspace, actor=actor, detail={"token_id": token.token_id}
        )
    _after_commit(lambda: signals.token_revoked.send(sender=ServiceToken, token=token, actor=actor))
    return True


# --------------------------------------------------------------------------
# Bulk jobs (secretvault.bulk: batched, so that no request waits for a whole job)


def rotate_master_key(**kwargs: Any) -> int:
    """``secretvault.bulk.rotate_master_key``."""
    from secretvault import bulk

    return bulk.rotate_master_key(**kwargs)


def rotate_data_key(workspace: Workspace, **kwargs: Any) -> int:
    """``secretvault.bulk.rotate_data_key``."""
    from secretvault import bulk

    return bulk.rotate_data_key(workspace, **kwargs)


# Names the bulk jobs use.
lock_workspace = _lock_workspace
check_key_free = _check_key_free
current_value = _current_value
