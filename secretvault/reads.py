"""The read paths of values: ``reveal`` and ``load`` (and what ``load`` revalidates with).

Split from ``services`` (which re-exports every name here, so the doors keep one entry
point). Each read asks the reach rule (``secretvault.access``) first and is audited
(``secret.reveal``, ``secrets.load``) when ``SECRETVAULT["AUDIT_READS"]`` is on; a
revalidation that answers 304 decrypts nothing and records nothing (SPEC §10).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections.abc import Iterable, Mapping

from django.views.decorators.debug import sensitive_variables

from secretvault import access, audit, crypto
from secretvault.access import Reach
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.errors import AccessDeniedError, CryptoError, UnknownVersionError
from secretvault.managers import LoadState, ResolvedSecret
from secretvault.models import Secret, SecretVersion, ServiceToken, Workspace, WorkspaceHead


def _reach(workspace: Workspace | object, actor: Actor | None) -> Reach:
    """The actor's reach in ``workspace`` (``secretvault.access``); the system reaches everything."""
    return access.principal_for_actor(actor).reach(workspace)


@sensitive_variables()
def reveal(secret: Secret, actor: Actor | None = None, version: int | None = None) -> str:
    """The decrypted value (current, or ``version``); audited as ``secret.reveal``.

    Needs ``view_secret`` and ``reveal_secret`` over the secret, and for an earlier
    version a reach covering the audience it was written for.
    """
    reach = _reach(secret.workspace_id, actor)
    reach.check_secret(secret, "view_secret", "reveal_secret")
    number = version or secret.current_version
    stored = SecretVersion.objects.filter(secret=secret, version=number).first()
    if stored is None:
        raise UnknownVersionError(f"Secret {secret.key!r} has no version {number}.")
    if number != secret.current_version and not reach.reaches_audience(stored):
        raise AccessDeniedError(
            f"Version {number} was written for environments or scope tags beyond your reach."
        )
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


_DECRYPT_ITEM = operator.itemgetter(
    ResolvedSecret._fields.index("key"),
    ResolvedSecret._fields.index("current_ciphertext"),
    ResolvedSecret._fields.index("id_bytes"),
    ResolvedSecret._fields.index("current_version"),
)


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
            # (key, ciphertext, id bytes, version) of each entry, picked in C: no Python frame per secret.
            map(_DECRYPT_ITEM, resolved.values()),
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


def load_target(
    workspace: Workspace,
    env: str | None,
    scope: str | Iterable[str] | None,
    actor: Actor | None,
) -> tuple[str | None, str | Iterable[str] | None]:
    """The ``(env, scope)`` a load by ``actor`` resolves, once the reach rule allows it.

    ``load`` and the CLI's ``run`` (which resolves and decrypts on its own, to watch for
    changes) start here; the API's ``load`` view, which holds its caller's reach
    already, calls ``target_within``. Raises as ``target_within`` does.
    """
    return target_within(_reach(workspace, actor), env, scope)


def load_target_now(
    workspace: Workspace,
    env: str | None,
    scope: str | Iterable[str] | None,
    actor: Actor | None,
) -> tuple[str | None, str | Iterable[str] | None]:
    """``load_target`` for a reader that outlives one request (the CLI's ``run --watch``).

    The actor's user or token is read again from the database, so a reach cached on
    the object the reader started with does not outlive a removed membership, a
    narrowed grant, a deactivated user or a revoked or expired token (SPEC §9: every
    load is checked). Raises ``AccessDeniedError`` when the user is gone or inactive
    or the token no longer works, else as ``target_within`` does.
    """
    if actor is not None and actor.token is not None:
        token = ServiceToken.objects.filter(pk=actor.token.pk).first()
        if token is None or not token.is_active():
            raise AccessDeniedError("The token no longer works.")
        actor = Actor(token=token, remote_addr=actor.remote_addr)
    elif actor is not None and actor.user is not None:
        manager = type(actor.user)._default_manager
        user = manager.filter(pk=actor.user.pk).first()
        if user is None or not user.is_active:
            raise AccessDeniedError("The user is no longer active.")
        actor = Actor(user=user, remote_addr=actor.remote_addr)
    return load_target(workspace, env, scope, actor)


def target_within(
    reach: Reach, env: str | None, scope: str | Iterable[str] | None
) -> tuple[str | None, str | Iterable[str] | None]:
    """The ``(env, scope)`` a load within ``reach`` resolves (SPEC §9, one rule for every door).

    Raises ``AccessDeniedError`` unless ``reach`` holds ``view_secret`` and
    ``reveal_secret`` in ``env`` and within its scope tags. Without ``env``, a principal
    limited to one environment loads that one; without ``scope``, one limited to scope
    tags loads those. Whether ``env`` exists is the caller's to ask (an unrestricted
    principal may name any slug; a restricted one reaches only existing environments).
    """
    reach.require("view_secret", "reveal_secret")
    if env is not None:
        reach.check_env(env, "reveal_secret")
    elif reach.env_restricted("reveal_secret"):
        env = reach.default_env("reveal_secret")
    if reach.scope is not None:
        if scope:
            reach.check_scope([scope] if isinstance(scope, str) else scope)
        else:
            scope = sorted(reach.scope)
    return env, scope


@sensitive_variables()
def load(
    workspace: Workspace,
    env: str | None = None,
    scope: str | Iterable[str] | None = None,
    actor: Actor | None = None,
) -> dict[str, str]:
    """The resolved ``{KEY: value}`` map for ``env`` and ``scope``; audited as ``secrets.load``.

    The actor needs ``view_secret`` and ``reveal_secret`` in ``env`` (``AccessDeniedError``).
    """
    env, scope = load_target(workspace, env, scope, actor)
    resolved = Secret.objects.resolve(workspace, env=env, scope=scope)
    values = decrypt_resolved(workspace, resolved)
    record_load(workspace, resolved, env=env, actor=actor)
    return values


def stats(workspace: Workspace, now: dt.datetime | None = None) -> dict[str, int]:
    """Secret counts: total, active, expired, expiring_soon, revoked (one query)."""
    return Secret.objects.filter(workspace=workspace).counts(now)
