"""Bulk jobs: import, data key rotation and master key rotation, in batches.

A bulk job must never hold what every request needs for its whole duration
(issue #17.3): each batch is its own short transaction, and the audit chain's
slot (the workspace head row, which every audited request takes last) is held
only from the batch's one append to its commit. Progress goes to the caller's
``progress(done, total)`` after each batch. A dry run takes no lock and writes
nothing.

How long each job holds what is in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from secretvault import access, audit, crypto, services
from secretvault.audit import Actor
from secretvault.errors import AccessDeniedError
from secretvault.models import Secret, SecretVersion, VersionAction, Workspace

Progress = Callable[[int, int], None]

#: Keys written per import transaction; versions re-encrypted per rotation transaction.
IMPORT_BATCH = 200
ROTATION_BATCH = 200


# --------------------------------------------------------------------------
# Import


@dataclass
class ImportReport:
    """What an import did (or, dry, would do): keys by outcome."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def secrets_serving_exactly(
    workspace: Workspace, keys: Iterable[str], envs: list[str], actor: Actor | None = None
) -> dict[str, Secret]:
    """``{key: secret}`` for the secrets of ``keys`` whose environments are exactly ``envs``.

    With ``actor``, only those it sees (``secretvault.access``): a secret out of its sight
    is answered like a missing one (SPEC §9), so a write to it is refused like a creation.
    """
    wanted = sorted(envs)
    found: dict[str, Secret] = {}
    keys = list(keys)
    reach = access.principal_for_actor(actor).reach(workspace) if actor is not None else None
    for offset in range(0, len(keys), 1000):
        candidates = Secret.objects.filter(workspace=workspace, key__in=keys[offset : offset + 1000])
        if reach is not None:
            candidates = reach.filter_secrets(candidates)
        for secret in candidates.with_env_slugs():
            if secret.env_slugs() == wanted:
                secret.workspace = workspace
                found[secret.key] = secret
    return found


def check_import_reach(workspace: Workspace, envs: list[str], actor: Actor | None) -> None:
    """``AccessDeniedError`` unless ``actor`` may import secrets serving exactly ``envs``.

    An import creates and changes unscoped secrets of ``envs`` (``add_secret`` and
    ``change_secret`` over them, the subset rule of ``Reach.check_write``), and its plan
    compares the file's values with the stored ones, which tells whether a guess was
    right: so it needs ``reveal_secret`` over them too. Asked before anything is read,
    so a refusal is the same whatever the workspace holds (SPEC §9).
    """
    if actor is None:
        return
    reach = access.principal_for_actor(actor).reach(workspace)
    for codename in ("add_secret", "change_secret"):
        reach.check_write(envs, [], codename)
    reach.check_reshape(creating=True)
    if not reach.sees(envs, [], "reveal_secret"):
        raise AccessDeniedError(
            f"{reach.who} cannot reveal values there, so cannot import: the import compares values."
        )


@sensitive_variables()
def plan_import(
    workspace: Workspace, values: Mapping[str, str], *, envs: list[str], actor: Actor | None = None
) -> ImportReport:
    """What ``import_values`` would do, read-only: no lock, no write.

    Raises ``AccessDeniedError`` when ``actor`` may not import into ``envs``
    (``check_import_reach``), ``ValidationError`` for an unknown environment and
    ``DuplicateKeyError`` for a key whose new secret would overlap another's environments.
    """
    environments = services.environments_by_slug(workspace, envs)
    check_import_reach(workspace, envs, actor)
    existing = secrets_serving_exactly(workspace, values, envs, actor)
    report = ImportReport()
    for key, value in values.items():
        secret = existing.get(key)
        if secret is None:
            services.check_key_free(workspace, key, environments)
            report.created.append(key)
        elif services.current_value(secret) == value:
            report.unchanged.append(key)
        else:
            report.updated.append(key)
    return report


@sensitive_variables()
def import_values(
    workspace: Workspace,
    values: Mapping[str, str],
    *,
    envs: list[str],
    actor: Actor | None = None,
    dry_run: bool = False,
    batch_size: int = IMPORT_BATCH,
    progress: Progress | None = None,
) -> ImportReport:
    """Write ``values`` as secrets serving exactly ``envs``, ``batch_size`` keys per transaction.

    New keys are created, changed values get a new version (action ``import``),
    equal ones are left alone. The whole import is planned first (``plan_import``,
    read-only): a conflict refuses it before anything is written. Each batch
    commits on its own, so an interrupted import leaves whole batches written and
    can be re-run (written keys then come out unchanged). ``dry_run`` returns the
    plan and writes nothing.
    """
    plan = plan_import(workspace, values, envs=envs, actor=actor)
    if dry_run:
        return plan
    report = ImportReport()
    keys = list(values)
    for offset in range(0, len(keys), batch_size):
        chunk = keys[offset : offset + batch_size]
        with transaction.atomic(), audit.appended_together():
            existing = secrets_serving_exactly(workspace, chunk, envs, actor)
            for key in chunk:
                secret = existing.get(key)
                if secret is None:
                    services.create_secret(
                        workspace,
                        key=key,
                        value=values[key],
                        envs=envs,
                        actor=actor,
                        action=VersionAction.IMPORT,
                    )
                    report.created.append(key)
                    continue
                before = secret.current_version
                services.update_secret(secret, value=values[key], actor=actor, action=VersionAction.IMPORT)
                (report.updated if secret.current_version != before else report.unchanged).append(key)
        if progress:
            progress(min(offset + batch_size, len(keys)), len(keys))
    return report


# --------------------------------------------------------------------------
# Data key rotation


@sensitive_variables()
def rotate_data_key(
    workspace: Workspace,
    *,
    actor: Actor | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
    batch_size: int = ROTATION_BATCH,
) -> int:
    """Re-encrypt every version of the workspace under a new data key, in batches.

    1. One short transaction installs a new data key and keeps the old one as the
       workspace's ``previous`` key: new writes use the new key, and a value still
       sealed by the old one stays readable (decryption takes the key its header
       names, of those two).
    2. Batches of ``batch_size`` versions, each its own transaction, are
       re-encrypted under the new key.
    3. One short transaction waits for writes in flight (every secret row,
       briefly), re-encrypts what they sealed with the old key, and drops the old
       key.

    An interruption anywhere leaves every value readable (SPEC §2); running it
    again resumes with the same new key. Returns the number of versions
    re-encrypted (with ``dry_run``: decrypted to prove they are readable, with no
    lock and no write).

    A person or token as ``actor`` needs ``change_workspace`` in the workspace
    (a global model permission or a superuser: no role holds it; SPEC §9), else
    ``AccessDeniedError`` before anything is read.
    """
    access.principal_for_actor(actor).require(workspace, "change_workspace")
    if dry_run:
        return _check_readable(workspace, progress, batch_size)
    caller_copy = workspace
    with transaction.atomic():
        workspace = services.lock_workspace(workspace)
        if not workspace.previous_data_key_id:
            workspace.previous_data_key_id = workspace.data_key_id
            workspace.previous_wrapped_data_key = workspace.wrapped_data_key
            workspace.install_data_key(
                crypto.new_data_key(), crypto.get_keyring().get(workspace.master_key_id)
            )
            # Every key of the workspace under the active master key, as a fresh workspace's.
            workspace.rewrap(crypto.get_keyring().active)
            workspace.save(update_fields=[*_KEY_FIELDS, "wrapped_audit_key", *_PREVIOUS])
    old_id, new_id = workspace.previous_data_key_id, workspace.data_key_id
    stale = SecretVersion.objects.filter(secret__workspace=workspace, data_key_id=old_id)
    total = stale.count()
    done = 0
    while True:
        with transaction.atomic():
            moved = _reencrypt(workspace.pk, stale, batch_size)
        if not moved:
            break
        done += moved
        total = max(total, done)
        if progress:
            progress(done, total)
    with transaction.atomic():
        # Writers of new versions hold their secret's row lock from reading the keys to
        # their commit: once we hold every one, no version sealed by the old key is in
        # flight. (Creations read the keys under the workspace row's lock, so after the
        # first step they already use the new key; the row is not locked here, which
        # keeps this step out of the way of a writer checking its secret's foreign key.)
        list(Secret.objects.select_for_update().filter(workspace=workspace).values_list("pk", flat=True))
        while moved := _reencrypt(workspace.pk, stale, batch_size):
            done += moved
        workspace.previous_data_key_id = ""
        workspace.previous_wrapped_data_key = None
        workspace.save(update_fields=["previous_data_key_id", "previous_wrapped_data_key", "updated_at"])
        audit.record(
            "workspace.rotate_data_key",
            workspace=workspace,
            actor=actor,
            detail={"from": old_id, "to": new_id, "versions": done},
        )
    if progress and (not done or done != total):
        progress(done, done)
    for name in (*_KEY_FIELDS, "wrapped_audit_key", *_PREVIOUS):
        setattr(caller_copy, name, getattr(workspace, name))
    return done


_KEY_FIELDS = ("wrapped_data_key", "data_key_id", "master_key_id", "updated_at")
_PREVIOUS = ("previous_data_key_id", "previous_wrapped_data_key")

#: Called with each batch's versions before they are written (tests slow a job down with it).
before_batch_write: Callable[[list[SecretVersion]], None] | None = None


@sensitive_variables()
def _reencrypt(workspace_pk: Any, stale: Any, batch_size: int) -> int:
    """Re-encrypt up to ``batch_size`` versions still under the previous key; how many."""
    batch = list(
        stale.select_for_update(of=("self",))
        .order_by("pk")
        .only("pk", "secret_id", "version", "ciphertext")[:batch_size]
    )
    if not batch:
        return 0
    workspace = Workspace.objects.get(pk=workspace_pk)  # the keys as committed now
    cipher, others = workspace.cipher(), workspace.previous_ciphers()
    for version in batch:
        context = crypto.value_context(workspace.id, version.secret_id, version.version)
        plaintext = crypto.decrypt_value(
            cipher, workspace.data_key_id, bytes(version.ciphertext), context, others
        )
        version.ciphertext = crypto.encrypt_value(cipher, workspace.data_key_id, plaintext, context)
        version.data_key_id = workspace.data_key_id
    if before_batch_write is not None:
        before_batch_write(batch)
    SecretVersion.objects.bulk_update(batch, ["ciphertext", "data_key_id"])
    return len(batch)


@sensitive_variables()
def _check_readable(workspace: Workspace, progress: Progress | None, batch_size: int) -> int:
    """Decrypt every version of ``workspace`` (no lock, no write); how many."""
    workspace = Workspace.objects.get(pk=workspace.pk)
    cipher, others = workspace.cipher(), workspace.previous_ciphers()
    versions = SecretVersion.objects.filter(secret__workspace=workspace)
    total = versions.count()
    done = 0
    for secret_id, number, blob in (
        versions.order_by("pk")
        .values_list("secret_id", "version", "ciphertext")
        .iterator(chunk_size=batch_size)
    ):
        context = crypto.value_context(workspace.id, secret_id, number)
        crypto.decrypt_value(cipher, workspace.data_key_id, bytes(blob), context, others)
        done += 1
        if progress and done % batch_size == 0:
            progress(done, total)
    if progress and done % batch_size:
        progress(done, total)
    return done


# --------------------------------------------------------------------------
# Master key rotation


def rotate_master_key(
    *, actor: Actor | None = None, progress: Progress | None = None, dry_run: bool = False
) -> int:
    """Re-wrap the keys of every workspace not wrapped by the active master key.

    One short transaction per workspace (its row lock and its audit event), so no
    workspace waits for another's. An interruption leaves each workspace wrapped
    by the old or by the new master key, every value readable with the keyring
    that holds both. Returns how many workspaces were (or, with ``dry_run``:
    would be, proven unwrappable with no lock and no write) re-wrapped.

    A person or token as ``actor`` needs ``change_workspace`` everywhere (a global
    model permission or a superuser), else ``AccessDeniedError`` before anything is read.
    """
    access.principal_for_actor(actor).require_global("change_workspace")
    active = crypto.get_keyring().active
    stale = list(
        Workspace.objects.exclude(master_key_id=active.key_id).order_by("pk").values_list("pk", flat=True)
    )
    done = 0
    for pk in stale:
        if dry_run:
            Workspace.objects.get(pk=pk).rewrap(active)  # unwraps every key: proves they are readable
            done += 1
        else:
            with transaction.atomic():
                workspace = Workspace.objects.select_for_update().filter(pk=pk).first()
                if workspace is not None and workspace.master_key_id != active.key_id:
                    previous = workspace.master_key_id
                    workspace.rewrap(active)
                    workspace.save(
                        update_fields=[*_KEY_FIELDS, "wrapped_audit_key", "previous_wrapped_data_key"]
                    )
                    audit.record(
                        "workspace.rotate_master_key",
                        workspace=workspace,
                        actor=actor,
                        detail={"from": previous, "to": active.key_id},
                    )
                    done += 1
        if progress:
            progress(done, len(stale))
    return done
