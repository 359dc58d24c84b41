"""Who did what: the actor of a write or read, and the audit trail it leaves."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from secretvault import crypto
from secretvault.errors import SecretVaultError

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

    from secretvault.models import AuditEvent, ServiceToken, Workspace


@dataclass(frozen=True)
class Actor:
    """A person (Django user), a service token, or neither (a system task)."""

    user: AbstractBaseUser | None = None
    token: ServiceToken | None = None
    remote_addr: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        from secretvault.models import ServiceToken

        auth = getattr(request, "auth", None)
        user: AbstractBaseUser | AnonymousUser | None = getattr(request, "user", None)
        token = auth if isinstance(auth, ServiceToken) else None
        if token is not None or user is None or not user.is_authenticated:
            user = None
        return cls(user=user, token=token, remote_addr=client_address(request))  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"token:{self.token.token_id}"
        if self.user is not None:
            return self.user.get_username()
        return "system"


SYSTEM = Actor()


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or a trusted proxy's header (``secretvault.network``)."""
    from secretvault.network import client_address as address_of

    return address_of(request)


def record(
    action: str,
    *,
    workspace: Workspace | None,
    actor: Actor | None = None,
    key: str = "",
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. ``detail`` holds names and numbers, never a value.

    Events of a workspace form a chain: each carries the next sequence number
    and an HMAC (under the workspace's audit key) over its fields and the
    previous event's digest, so ``verify_chain`` detects an edited, removed or
    reordered row. Call it as the last step of a write, after every lock is
    taken: concurrent appenders race for the next sequence number through a
    unique constraint and retry, and must not hold locks the winner needs.
    """
    from secretvault.models import AuditEvent

    actor = actor or SYSTEM
    event = AuditEvent(
        workspace=workspace,
        action=action,
        key=key,
        version=version,
        user=actor.user,
        username=actor.user.get_username() if actor.user is not None else "",
        token_id=actor.token.token_id if actor.token is not None else "",
        remote_addr=AuditEvent._meta.get_field("remote_addr").get_prep_value(actor.remote_addr),
        detail=detail or {},
    )
    if workspace is None:
        event.save(force_insert=True)
        return event
    mac_key = workspace.audit_key()
    # The head this process last committed: right unless another process appended
    # since, in which case the insert collides and we read the real head.
    head = _chain_heads.get(workspace.pk)
    for _attempt in range(_MAX_CHAIN_ATTEMPTS):
        if head is None:
            head = (
                AuditEvent.objects.filter(workspace=workspace, sequence__isnull=False)
                .order_by("-sequence")
                .values_list("sequence", "chain_digest")
                .first()
            ) or (0, "")
        event.sequence = head[0] + 1
        event.chain_digest = crypto.chain_digest(mac_key, head[1], event.chain_message())
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            event._state.adding = True
            head = None
            continue
        _remember_head_on_commit(workspace.pk, (event.sequence, event.chain_digest))
        return event
    raise SecretVaultError("Could not append to the audit chain: too much contention.")


_MAX_CHAIN_ATTEMPTS = 50
# workspace id -> (sequence, digest) of the last event this process committed.
_chain_heads: dict[Any, tuple[int, str]] = {}


def _remember_head_on_commit(workspace_id: Any, head: tuple[int, str]) -> None:
    """Cache the new head only once it is committed: a rolled-back event must not be linked to."""

    def remember() -> None:
        known = _chain_heads.get(workspace_id)
        if known is None or known[0] < head[0]:
            _chain_heads[workspace_id] = head

    transaction.on_commit(remember)


def forget_chain_heads() -> None:
    _chain_heads.clear()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(workspace: Workspace) -> ChainReport:
    """Recompute a workspace's audit chain; report every break.

    Finds edited rows (digest mismatch), removed rows (a gap in the sequence or
    a broken link), and writes whose event is missing (a stored secret version
    with no matching audit event, which also catches a removed last event).
    """
    from secretvault.models import AuditEvent, SecretVersion

    mac_key = workspace.audit_key()
    problems: list[str] = []
    previous = ""
    expected = 1
    checked = 0
    recorded_writes: set[tuple[str, int]] = set()
    events = AuditEvent.objects.filter(workspace=workspace, sequence__isnull=False).order_by("sequence")
    for event in events.iterator(chunk_size=2000):
        checked += 1
        if event.sequence != expected:
            problems.append(f"events {expected}..{event.sequence - 1} are missing")
        digest = crypto.chain_digest(mac_key, previous, event.chain_message())
        if not hmac.compare_digest(digest, event.chain_digest):
            problems.append(f"event {event.sequence} ({event.action}) does not match its digest")
        if event.action in _VERSION_WRITES and event.version is not None:
            recorded_writes.add((event.key, event.version))
        previous = event.chain_digest
        expected = event.sequence + 1
    unrecorded = [
        f"{key} v{number}"
        for key, number in SecretVersion.objects.filter(secret__workspace=workspace)
        .order_by("secret__key", "version")
        .values_list("secret__key", "version")
        if (key, number) not in recorded_writes
    ]
    if unrecorded:
        shown = ", ".join(unrecorded[:10]) + (" …" if len(unrecorded) > 10 else "")
        problems.append(f"{len(unrecorded)} stored version(s) have no audit event: {shown}")
    return ChainReport(checked=checked, problems=problems)


_VERSION_WRITES = {"secret.create", "secret.update", "secret.rollback", "secret.import"}
