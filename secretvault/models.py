"""secretvault's data model. No ``__str__`` or ``__repr__`` here shows a value or a raw token."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from secretvault import crypto
from secretvault.conf import CONSTANTS, vault_settings
from secretvault.errors import CryptoError, SecretVaultError
from secretvault.managers import (
    AuditEventQuerySet,
    SecretManager,
    ServiceTokenManager,
    WorkspaceHeadQuerySet,
)
from secretvault.validators import truncate_to_second, validate_key, validate_slug

KEY_ID_MAX = CONSTANTS["KEY_ID_MAX_LENGTH"]


def unix_seconds(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.CharField(_("slug"), max_length=50, unique=True, validators=[validate_slug])
    name = models.CharField(_("name"), max_length=200, blank=True)
    wrapped_data_key = models.BinaryField(editable=False)
    data_key_id = models.CharField(max_length=KEY_ID_MAX, editable=False)
    master_key_id = models.CharField(max_length=KEY_ID_MAX, editable=False, db_index=True)
    # HMAC key of the audit chain, wrapped by the same master key as the data key.
    wrapped_audit_key = models.BinaryField(editable=False)
    # The data key being replaced, while a data key rotation re-encrypts versions in
    # batches (SPEC §2, issue #17.3): values still sealed by it stay readable.
    previous_data_key_id = models.CharField(max_length=KEY_ID_MAX, blank=True, default="", editable=False)
    previous_wrapped_data_key = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def __repr__(self) -> str:
        return f"<Workspace {self.slug!r} data_key={self.data_key_id!r} master_key={self.master_key_id!r}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.wrapped_data_key:
            self.install_data_key(crypto.new_data_key())
        if not self.wrapped_audit_key:
            master = crypto.get_keyring().get(self.master_key_id)
            audit_key = crypto.new_data_key()[1]
            _, self.wrapped_audit_key = crypto.wrap_data_key(self.id, crypto.AUDIT_KEY_ID, audit_key, master)
        super().save(*args, **kwargs)

    def install_data_key(self, data_key: tuple[str, bytes], master: crypto.MasterKey | None = None) -> None:
        """Wrap ``(data_key_id, key)`` under ``master`` (default: the active key) and hold it."""
        data_key_id, key = data_key
        self.master_key_id, wrapped = crypto.wrap_data_key(self.id, data_key_id, key, master)
        self.data_key_id = data_key_id
        self.wrapped_data_key = wrapped

    @sensitive_variables()
    def rewrap(self, master: crypto.MasterKey) -> None:
        """Wrap the data key, the audit key (and a previous data key) under ``master``.

        No key changes. Raises ``MasterKeyError``/``DecryptionError`` when one cannot be unwrapped.
        """
        data_key = crypto.unwrap_data_key(self.id, self.data_key_id, bytes(self.wrapped_data_key))
        audit = crypto.unwrap_data_key(self.id, crypto.AUDIT_KEY_ID, bytes(self.wrapped_audit_key))
        if self.previous_data_key_id:
            previous = crypto.unwrap_data_key(
                self.id, self.previous_data_key_id, bytes(self.previous_wrapped_data_key or b"")
            )
            _, self.previous_wrapped_data_key = crypto.wrap_data_key(
                self.id, self.previous_data_key_id, previous, master
            )
        self.install_data_key((self.data_key_id, data_key), master)
        _, self.wrapped_audit_key = crypto.wrap_data_key(self.id, crypto.AUDIT_KEY_ID, audit, master)

    def previous_ciphers(self) -> dict[str, AESGCM]:
        """``{data key id: cipher}`` of the data key a rotation is replacing (empty otherwise)."""
        if not self.previous_data_key_id:
            return {}
        wrapped = bytes(self.previous_wrapped_data_key or b"")
        return {
            self.previous_data_key_id: crypto.data_key_cipher(self.id, self.previous_data_key_id, wrapped)
        }

    def audit_key(self) -> bytes:
        return crypto.audit_key(self.id, bytes(self.wrapped_audit_key))

    def cipher(self) -> AESGCM:
        """This workspace's data key as a cipher (unwrapped with the master keyring)."""
        if crypto.read_key_id(self.wrapped_data_key) != self.master_key_id:
            from secretvault.errors import DecryptionError

            raise DecryptionError(
                f"Workspace {self.slug!r}: the wrapped data key's header does not name "
                f"master key {self.master_key_id!r}."
            )
        return crypto.data_key_cipher(self.id, self.data_key_id, bytes(self.wrapped_data_key))


class WorkspaceHead(models.Model):
    """What every write of a workspace moves, kept apart from the workspace row.

    ``revision`` grows by one in the transaction of every write (every audited
    action but the reads): together with the latest expiry already passed it is
    what a ``load`` ETag stands for (SPEC §10). ``sequence``, ``digest`` and
    ``seal`` are the head of the audit chain, written in the transaction that
    appends an event, so that ``audit.verify_chain`` sees a removed trailing
    event (issue #10.6). Only ``secretvault.audit`` writes this row, with
    compare-and-set updates; a stale in-memory copy can never set it back.
    """

    # No database constraint: on PostgreSQL a second update of this row in one transaction
    # would re-check the key with FOR KEY SHARE on the workspace row, and so wait for (or
    # deadlock with) whoever holds that row FOR UPDATE: a rotation, a secret creation.
    workspace = models.OneToOneField(
        Workspace, primary_key=True, on_delete=models.CASCADE, db_constraint=False, related_name="head"
    )
    revision = models.PositiveBigIntegerField(default=0, editable=False)
    sequence = models.PositiveBigIntegerField(default=0, editable=False)
    digest = models.CharField(max_length=64, blank=True, editable=False)
    seal = models.CharField(max_length=64, blank=True, editable=False)

    objects = WorkspaceHeadQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.workspace_id}@{self.revision}"

    def __repr__(self) -> str:
        return (
            f"<WorkspaceHead workspace={self.workspace_id} revision={self.revision} sequence={self.sequence}>"
        )


class Environment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="environments")
    slug = models.CharField(_("slug"), max_length=50, validators=[validate_slug])
    name = models.CharField(_("name"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="secretvault_env_unique_slug"),
        ]

    def __str__(self) -> str:
        return self.slug

    def __repr__(self) -> str:
        return f"<Environment {self.slug!r} workspace={self.workspace_id}>"


class TokenType(models.TextChoices):
    NONE = "", _("(none)")
    API = "api", _("API key")
    ACCESS = "access", _("Access token")


class Secret(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: a workspace holding secrets cannot be deleted.
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="secrets")
    key = models.CharField(_("key"), max_length=255, validators=[validate_key])
    description = models.TextField(_("description"), blank=True)
    token_type = models.CharField(
        _("token type"), max_length=10, choices=TokenType.choices, blank=True, default=""
    )
    scope = models.JSONField(
        _("scope"), default=list, blank=True, help_text=_("App tags; empty = every app.")
    )
    envs = models.ManyToManyField(
        Environment,
        through="SecretEnvironment",
        related_name="secrets",
        blank=True,
        help_text=_("Environments served; empty = global (every environment)."),
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # Who set the revocation and the expiry: a service token may lift only what a token set
    # (issue #10 finding 8); a person's or the operator's choice binds every token.
    revoked_by_token = models.BooleanField(default=False, editable=False)
    expiry_set_by_token = models.BooleanField(default=False, editable=False)
    current_version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SecretManager()

    class Meta:
        ordering = ["key"]
        indexes = [
            models.Index(fields=["workspace", "key"], name="secretvault_secret_ws_key"),
            # The latest expiry already passed, per workspace: one index probe (load ETag).
            models.Index(fields=["workspace", "expires_at"], name="secretvault_secret_ws_exp"),
        ]
        permissions = [
            ("reveal_secret", "Can reveal secret values"),
            ("rollback_secret", "Can roll back secrets to an earlier version"),
        ]

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<Secret {self.key!r} workspace={self.workspace_id} version={self.current_version}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.expires_at = truncate_to_second(self.expires_at)
        super().save(*args, **kwargs)

    @property
    def expires_at_unix(self) -> int | None:
        return unix_seconds(self.expires_at)

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    def is_expiring_soon(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.expires_at is not None
            and not self.is_expired(now)
            and self.expires_at <= now + dt.timedelta(seconds=vault_settings.EXPIRING_SOON_SECONDS)
        )

    def env_slugs(self) -> list[str]:
        """Slugs of the environments served (uses the prefetch cache when present)."""
        return sorted(env.slug for env in self.envs.all())

    @sensitive_variables()
    def encrypt(self, plaintext: str, version: int, workspace: Workspace | None = None) -> tuple[str, bytes]:
        """Seal ``plaintext`` as version ``version`` of this secret: ``(data_key_id, blob)``."""
        workspace = workspace or self.workspace
        context = crypto.value_context(workspace.id, self.id, version)
        blob = crypto.encrypt_value(workspace.cipher(), workspace.data_key_id, plaintext, context)
        return workspace.data_key_id, blob

    @sensitive_variables()
    def decrypt(self, blob: bytes | memoryview, version: int, workspace: Workspace | None = None) -> str:
        """Open version ``version``'s ``blob``; a ``CryptoError`` names this workspace, key and version."""
        workspace = workspace or self.workspace
        context = crypto.value_context(workspace.id, self.id, version)
        try:
            return crypto.decrypt_value(
                workspace.cipher(), workspace.data_key_id, bytes(blob), context, workspace.previous_ciphers()
            )
        except CryptoError as exc:
            exc.locate(workspace=workspace.slug, key=self.key, version=version)
            raise


class SecretEnvironment(models.Model):
    """The environments a secret serves. PROTECT: a named environment cannot be deleted."""

    secret = models.ForeignKey(Secret, on_delete=models.CASCADE)
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["secret", "environment"], name="secretvault_secretenv_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.secret_id}@{self.environment_id}"


class VersionAction(models.TextChoices):
    CREATE = "create", _("create")
    UPDATE = "update", _("update")
    ROLLBACK = "rollback", _("rollback")
    IMPORT = "import", _("import")


class SecretVersion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    secret = models.ForeignKey(Secret, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    ciphertext = models.BinaryField(editable=False)
    data_key_id = models.CharField(max_length=KEY_ID_MAX, editable=False)
    action = models.CharField(max_length=10, choices=VersionAction.choices)
    source_version = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_token = models.ForeignKey(
        "ServiceToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The audience the value was written for: the secret's environment ids and scope tags
    # at that moment (``None``: not recorded, written before migration 0002). A rollback
    # brings a value back only for a principal that reaches this audience.
    audience_envs = models.JSONField(null=True, blank=True, editable=False)
    audience_scope = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["secret", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["secret", "version"], name="secretvault_version_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="secretvault_version_positive"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    def __repr__(self) -> str:
        return f"<SecretVersion secret={self.secret_id} version={self.version} action={self.action!r}>"

    @sensitive_variables()
    def decrypt(self, workspace: Workspace | None = None) -> str:
        return self.secret.decrypt(self.ciphertext, self.version, workspace)


class ServiceToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="tokens")
    token_id = models.CharField(max_length=CONSTANTS["TOKEN_ID_LENGTH"], unique=True, editable=False)
    digest = models.CharField(max_length=CONSTANTS["TOKEN_DIGEST_LENGTH"], editable=False)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    envs = models.ManyToManyField(
        Environment,
        through="TokenEnvironment",
        related_name="tokens",
        blank=True,
        help_text=_("Environments reachable; empty = all."),
    )
    scope = models.JSONField(_("scope"), default=list, blank=True, help_text=_("App tags; empty = all."))
    can_write = models.BooleanField(_("can write"), default=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ServiceTokenManager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("revoke_servicetoken", "Can revoke service tokens")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_id})"

    def __repr__(self) -> str:
        return f"<ServiceToken {self.token_id!r} workspace={self.workspace_id} revoked={self.is_revoked}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.expires_at = truncate_to_second(self.expires_at)
        super().save(*args, **kwargs)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    @property
    def expires_at_unix(self) -> int | None:
        return unix_seconds(self.expires_at)

    def env_slugs(self) -> list[str]:
        return sorted(env.slug for env in self.envs.all())

    def revoke(self, now: dt.datetime | None = None) -> bool:
        """Revoke at once and for good. Returns False when it was already revoked."""
        now = now or timezone.now()
        changed = ServiceToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed:
            self.revoked_at = now
        return bool(changed)

    def touch(self, now: dt.datetime | None = None) -> None:
        """Record use, writing at most once per ``TOKEN_LAST_USED_RESOLUTION`` seconds."""
        now = now or timezone.now()
        resolution = dt.timedelta(seconds=vault_settings.TOKEN_LAST_USED_RESOLUTION)
        if self.last_used_at is not None and now - self.last_used_at < resolution:
            return
        ServiceToken.objects.filter(pk=self.pk).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=now - resolution)
        ).update(last_used_at=now)
        self.last_used_at = now


class TokenEnvironment(models.Model):
    token = models.ForeignKey(ServiceToken, on_delete=models.CASCADE)
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "environment"], name="secretvault_tokenenv_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}@{self.environment_id}"


class AuditEvent(models.Model):
    """Append-only record of every write and every read of a value. Never holds a value."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No database constraint: the trail outlives the workspace it speaks of.
    workspace = models.ForeignKey(
        Workspace,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(max_length=40, db_index=True)
    key = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    token_id = models.CharField(max_length=CONSTANTS["TOKEN_ID_LENGTH"], blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Position in the workspace's chain and the HMAC linking it to the event before.
    sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    chain_digest = models.CharField(max_length=64, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="secretvault_audit_ws_time")]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "sequence"], name="secretvault_audit_chain_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.key}".strip()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action!r} key={self.key!r} version={self.version}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise SecretVaultError("Audit events are append-only; they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise SecretVaultError("Audit events are append-only; they cannot be deleted.")

    @property
    def actor(self) -> str:
        if self.token_id:
            return f"token:{self.token_id}"
        return self.username or ""

    def chain_message(self) -> bytes:
        """The canonical bytes the chain HMAC covers: every field but the digest itself."""
        return self.chain_message_and_detail()[0]

    def chain_message_and_detail(self) -> tuple[bytes, str]:
        """``chain_message()`` and the canonical JSON of ``detail`` inside it (``str``).

        The message is the compact, key-sorted JSON list of the fields; ``detail`` is
        encoded once and spliced in, so that an append can store the same text in its
        column instead of encoding the detail (a ``load``'s versions map: one entry
        per secret) a second time. The bytes are those of ``json.dumps`` of the whole
        list (``tests/test_audit.py`` checks it).
        """
        compact = (",", ":")
        fields = json.dumps(
            [
                self.sequence,
                str(self.workspace_id),
                self.action,
                self.key,
                self.version,
                None if self.user_id is None else str(self.user_id),
                self.username,
                self.token_id,
                self.remote_addr,
            ],
            sort_keys=True,
            separators=compact,
        )
        detail = json.dumps(self.detail, sort_keys=True, separators=compact)
        created = json.dumps(self.created_at.astimezone(dt.timezone.utc).isoformat())
        return f"{fields[:-1]},{detail},{created}]".encode(), detail


class MemberRole(models.TextChoices):
    VIEWER = "viewer", _("viewer")
    DEVELOPER = "developer", _("developer")
    ADMIN = "admin", _("admin")


class WorkspaceMember(models.Model):
    """A person's (or a group's) access to one workspace (SPEC §9).

    Exactly one of ``user`` and ``group``. ``envs`` restricts the role to those
    environments (empty = all); an ``admin`` is never restricted. What each role
    allows is ``secretvault.access.ROLE_PERMISSIONS``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="secretvault_memberships",
    )
    group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="secretvault_memberships",
    )
    role = models.CharField(_("role"), max_length=10, choices=MemberRole.choices, default=MemberRole.VIEWER)
    envs = models.ManyToManyField(
        Environment,
        through="MemberEnvironment",
        related_name="members",
        blank=True,
        help_text=_("Environments the role applies to; empty = all. Must be empty for admins."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["workspace__slug", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True)
                    | models.Q(user__isnull=True, group__isnull=False)
                ),
                name="secretvault_member_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["workspace", "user"],
                condition=models.Q(user__isnull=False),
                name="secretvault_member_unique_user",
            ),
            models.UniqueConstraint(
                fields=["workspace", "group"],
                condition=models.Q(group__isnull=False),
                name="secretvault_member_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal_label} ({self.role})"

    def __repr__(self) -> str:
        return f"<WorkspaceMember {self.principal_label!r} role={self.role!r} workspace={self.workspace_id}>"

    @property
    def principal_label(self) -> str:
        """``user:<username>`` or ``group:<name>`` (fetches the user or group when not loaded)."""
        if self.user_id is not None:
            return f"user:{self.user.get_username()}"  # type: ignore[union-attr]  # user_id is set
        if self.group_id is not None:
            return f"group:{self.group.name}"  # type: ignore[union-attr]  # group_id is set
        return "(nobody)"

    def env_slugs(self) -> list[str]:
        return sorted(env.slug for env in self.envs.all())


class MemberEnvironment(models.Model):
    """The environments a membership is restricted to. PROTECT, like secrets' and tokens'."""

    member = models.ForeignKey(WorkspaceMember, on_delete=models.CASCADE)
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "environment"], name="secretvault_memberenv_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}@{self.environment_id}"
