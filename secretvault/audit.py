"""Who did what: the actor of a write or read, and the audit trail it leaves."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.core.signals import setting_changed
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, signals

from secretvault import crypto
from secretvault.conf import SETTING_NAME
from secretvault.errors import SecretVaultError

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import Field
    from django.http import HttpRequest

    from secretvault.models import AuditEvent, ServiceToken, Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """A person (Django user), a service token, or neither (a system task)."""

    user: AbstractBaseUser | None = None
    token: ServiceToken | None = None
    remote_addr: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, *, with_address: bool = True) -> Actor:
        """The request's actor; ``with_address=False`` skips the client address (for ``label``
        alone: a 304 names its caller in the ETag and records nothing)."""
        from secretvault.models import ServiceToken

        auth = getattr(request, "auth", None)
        user: AbstractBaseUser | AnonymousUser | None = getattr(request, "user", None)
        token = auth if isinstance(auth, ServiceToken) else None
        if token is not None or user is None or not user.is_authenticated:
            user = None
        return cls(user=user, token=token, remote_addr=client_address(request) if with_address else None)

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
    reordered row. The workspace's head row (``WorkspaceHead``) is moved to the
    new event in the same transaction, by a compare-and-set on its sequence, and
    its ``revision`` grows by one unless ``action`` is a read (``READ_ACTIONS``):
    a removed trailing event no longer matches the head, and a ``load`` ETag
    follows every write. Call it as the last step of a write, after every other
    lock: the head row's lock is held from here to the commit, and every
    appender of the workspace (every audited ``load`` too) waits for it.

    Raises ``SecretVaultError`` when the chain cannot be appended to (a head row
    behind its events, or one that cannot be created).
    """
    from secretvault.models import AuditEvent

    actor = actor or SYSTEM
    event = AuditEvent(
        workspace=workspace,
        action=action,
        key=key,
        version=version,
        user=actor.user,  # type: ignore[misc]  # stubs read AUTH_USER_MODEL as auth.User; any fits
        username=actor.user.get_username() if actor.user is not None else "",
        token_id=actor.token.token_id if actor.token is not None else "",
        remote_addr=cast("Field[Any, Any]", AuditEvent._meta.get_field("remote_addr")).get_prep_value(
            actor.remote_addr
        ),
        detail=detail or {},
    )
    if workspace is None:
        event.save(force_insert=True)
        return event
    pending: list[tuple[Workspace, AuditEvent]] | None = getattr(_together, "events", None)
    if pending is not None:
        pending.append((workspace, event))  # appended when ``appended_together`` ends
        return event
    _append(workspace, [event])
    return event


def _append(workspace: Workspace, events: list[AuditEvent]) -> None:
    """Chain ``events`` after the workspace's head and move the head, in one transaction.

    The head row's lock is the chain slot: taken by the first statement below and
    held to the caller's commit (the caller's last step). With the head this
    process last committed, one compare-and-set both takes the slot and moves the
    head, and the event is inserted behind it: on PostgreSQL both in one statement
    (``_ChainAppend``), on SQLite two, written once rather than built by the ORM per
    request. When another process appended since (with several workers serving a
    workspace, most appends), that moves no row, and the slot is taken by an
    increment that returns the committed head (``_take_slot``): no retry loop,
    however many workers append. The head's digest is then set and the event
    inserted by the same written statement (one more round trip, not three). On
    PostgreSQL outside a transaction (a ``load``), a compare-and-set that succeeds is
    the whole transaction: no ``BEGIN``/``COMMIT`` around it.
    """
    from secretvault.models import WorkspaceHead

    mac_key = workspace.audit_key()
    bump = sum(1 for event in events if event.action not in READ_ACTIONS)
    writer = _ChainAppend.get() if len(events) == 1 else None
    cached = _chain_heads.get(workspace.pk)
    try:
        if cached is not None and writer is not None and writer.is_own_transaction():
            # PostgreSQL outside any transaction (a load): the one statement commits by itself,
            # and the head row is locked only while it runs. No BEGIN/COMMIT round trip.
            sequence, digest, detail_json = _link_one(mac_key, events[0], cached)
            seal = head_seal(mac_key, sequence, digest)
            if writer.append(cached[0], bump, seal, events[0], detail_json):
                _remember_head_on_commit(workspace.pk, (sequence, digest))  # committed: at once
                return
            cached = None  # moved elsewhere: take the slot below
        with transaction.atomic(savepoint=False):
            written = False
            if cached is not None and writer is not None:
                sequence, digest, detail_json = _link_one(mac_key, events[0], cached)
                seal = head_seal(mac_key, sequence, digest)
                written = writer.append(cached[0], bump, seal, events[0], detail_json)
            elif cached is not None:
                sequence, digest = _link(mac_key, events, cached)
                written = bool(
                    WorkspaceHead.objects.filter(workspace_id=workspace.pk, sequence=cached[0]).update(
                        sequence=sequence,
                        digest=digest,
                        seal=head_seal(mac_key, sequence, digest),
                        revision=F("revision") + bump,
                    )
                )
                if written:
                    _insert(events)
            if not written:
                # Another process appended since (or nothing is cached): take the slot from the
                # committed head, then set the head's digest and insert behind it.
                previous = _take_slot(workspace, mac_key, len(events), bump)
                if writer is not None:
                    sequence, digest, detail_json = _link_one(mac_key, events[0], previous)
                    seal = head_seal(mac_key, sequence, digest)
                    if not writer.append(sequence, 0, seal, events[0], detail_json):  # pragma: no cover
                        raise SecretVaultError(f"The audit chain slot of {workspace.slug!r} was lost.")
                else:
                    sequence, digest = _link(mac_key, events, previous)
                    WorkspaceHead.objects.filter(workspace_id=workspace.pk).update(
                        digest=digest, seal=head_seal(mac_key, sequence, digest)
                    )
                    _insert(events)
    except IntegrityError:
        raise SecretVaultError(
            f"The audit chain head of workspace {workspace.slug!r} is behind its events; run 'audit verify'."
        ) from None
    _remember_head_on_commit(workspace.pk, (sequence, digest))


def _insert(events: list[AuditEvent]) -> None:
    from secretvault.models import AuditEvent

    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        AuditEvent.objects.bulk_create(events)


def _link(mac_key: bytes, events: list[AuditEvent], head: tuple[int, str]) -> tuple[int, str]:
    """Number and digest ``events`` after ``head``; returns the new head."""
    sequence, digest = head
    for event in events:
        sequence += 1
        event.sequence = sequence
        event.chain_digest = digest = crypto.chain_digest(mac_key, digest, event.chain_message())
    return sequence, digest


def _link_one(mac_key: bytes, event: AuditEvent, head: tuple[int, str]) -> tuple[int, str, str]:
    """``_link`` of one event; also returns the canonical JSON of its detail (for its column)."""
    event.sequence = head[0] + 1
    message, detail_json = event.chain_message_and_detail()
    event.chain_digest = crypto.chain_digest(mac_key, head[1], message)
    return event.sequence, event.chain_digest, detail_json


class _ChainAppend:
    """One event's append as SQL written once per database: the head's compare-and-set
    and the event's insert (issue #14.1).

    Built by the ORM, the two statements cost more to compile than to run on every
    audited request. On PostgreSQL they are one statement (``WITH moved AS (UPDATE
    … RETURNING 1) INSERT … SELECT … FROM moved``: the event is inserted exactly
    when the head moved), one round trip instead of two; on SQLite two. Values are
    prepared by the model's own fields, except ``detail``, whose canonical JSON was
    already encoded for the chain message. ``post_save`` is sent when anyone listens,
    as ``save()`` would.
    """

    _built: ClassVar[dict[str, _ChainAppend | None]] = {}

    def __init__(self, alias: str, move_sql: str, insert_sql: str, combined: bool) -> None:
        self.alias = alias
        self.move_sql = move_sql
        self.insert_sql = insert_sql
        self.combined = combined

    @classmethod
    def get(cls) -> _ChainAppend | None:
        """The writer for the audit tables' database, or ``None`` (another vendor, or the
        head and the events on different databases): then the ORM does it."""
        from secretvault.models import AuditEvent, WorkspaceHead

        alias = router.db_for_write(AuditEvent)
        if router.db_for_write(WorkspaceHead) != alias:
            return None
        if alias not in cls._built:
            connection = connections[alias]
            cls._built[alias] = cls._build(alias, connection) if connection.vendor in _SQL_VENDORS else None
        return cls._built[alias]

    @classmethod
    def _build(cls, alias: str, connection: Any) -> _ChainAppend:
        from secretvault.models import AuditEvent, WorkspaceHead

        q = connection.ops.quote_name
        head, event = WorkspaceHead._meta, AuditEvent._meta
        column = {name: q(name) for name in ("sequence", "digest", "seal")}  # as in _take_slot
        revision = q("revision")
        move = (
            f"UPDATE {q(head.db_table)} SET {column['sequence']} = %s, {column['digest']} = %s,"  # noqa: S608 - quoted names from _meta; values are parameters
            f" {column['seal']} = %s, {revision} = {revision} + %s"
            f" WHERE {q(cast(str, head.pk.column))} = %s AND {column['sequence']} = %s"
        )
        fields = event.concrete_fields
        columns = ", ".join(q(cast(str, field.column)) for field in fields)
        if connection.vendor == "postgresql":
            # INSERT … SELECT types its values from the select list: cast each to its column's type.
            values = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
            insert = (
                f"WITH moved AS ({move} RETURNING 1)"  # noqa: S608 - quoted names from _meta; values are parameters
                f" INSERT INTO {q(event.db_table)} ({columns}) SELECT {values} FROM moved"
            )
            return cls(alias, move, insert, combined=True)
        values = ", ".join("%s" for _ in fields)
        insert = f"INSERT INTO {q(event.db_table)} ({columns}) VALUES ({values})"  # noqa: S608 - quoted names from _meta; values are parameters
        return cls(alias, move, insert, combined=False)

    def is_own_transaction(self) -> bool:
        """Whether ``append`` alone would be a whole transaction: one statement (PostgreSQL)
        on a connection in autocommit, outside any ``atomic`` block."""
        connection = connections[self.alias]
        return self.combined and connection.get_autocommit() and not connection.in_atomic_block

    def append(self, previous: int, bump: int, seal: str, event: AuditEvent, detail_json: str) -> bool:
        """Move the head from sequence ``previous`` to ``event`` and insert ``event``
        (already linked: ``sequence``, ``chain_digest``); ``False`` (nothing written)
        when the head is no longer at ``previous``."""
        from secretvault.models import AuditEvent, WorkspaceHead

        connection = connections[self.alias]
        head_pk = WorkspaceHead._meta.pk.get_db_prep_value(event.workspace_id, connection)
        move = [event.sequence, event.chain_digest, seal, bump, head_pk, previous]
        values = [
            detail_json
            if field.attname == "detail"
            else field.get_db_prep_save(getattr(event, field.attname), connection)
            for field in AuditEvent._meta.concrete_fields
        ]
        with connection.cursor() as cursor:
            if self.combined:
                cursor.execute(self.insert_sql, move + values)
                if cursor.rowcount != 1:
                    return False
            else:
                cursor.execute(self.move_sql, move)
                if cursor.rowcount != 1:
                    return False
                cursor.execute(self.insert_sql, values)
        event._state.adding = False
        event._state.db = self.alias
        if signals.post_save.has_listeners(AuditEvent):
            signals.post_save.send(
                sender=AuditEvent,
                instance=event,
                created=True,
                update_fields=None,
                raw=False,
                using=self.alias,
            )
        return True


_SQL_VENDORS = ("postgresql", "sqlite")


def _take_slot(workspace: Workspace, mac_key: bytes, count: int, bump: int) -> tuple[int, str]:
    """Lock the head row, move its sequence by ``count`` and its revision by ``bump``;
    return the head before the move ``(sequence, digest)``. Creates a missing head row."""
    from secretvault.models import WorkspaceHead

    connection = connections[WorkspaceHead.objects.db]
    for _attempt in range(2):
        if connection.vendor in ("postgresql", "sqlite"):
            q = connection.ops.quote_name
            meta = WorkspaceHead._meta
            pk_column = cast(str, meta.pk.column)  # a primary key always has a column
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {q(meta.db_table)} SET {q('sequence')} = {q('sequence')} + %s,"  # noqa: S608 - quoted names
                    f" {q('revision')} = {q('revision')} + %s WHERE {q(pk_column)} = %s"
                    f" RETURNING {q('sequence')}, {q('digest')}",
                    [count, bump, meta.pk.get_db_prep_value(workspace.pk, connection)],
                )
                row = cursor.fetchone()
        else:
            row = (
                WorkspaceHead.objects.select_for_update()
                .filter(workspace_id=workspace.pk)
                .values_list("sequence", "digest")
                .first()
            )
            if row is not None:
                WorkspaceHead.objects.filter(workspace_id=workspace.pk).update(
                    sequence=F("sequence") + count, revision=F("revision") + bump
                )
                row = (row[0] + count, row[1])
        if row is not None:
            return row[0] - count, row[1]
        _read_head(workspace, mac_key)  # creates the row
    raise SecretVaultError(f"The audit chain head of workspace {workspace.slug!r} cannot be created.")


_together = threading.local()


@contextmanager
def appended_together() -> Iterator[None]:
    """Hold back the chained events recorded inside; append them in one go at the end.

    For bulk jobs: use it inside the batch's ``transaction.atomic()`` so that the
    chain slot (the head row's lock, which every audited request waits for) is
    taken once, at the end of the batch, and held only until its commit. Nested
    uses append with the outermost. On an exception nothing is appended.
    """
    if getattr(_together, "events", None) is not None:
        yield
        return
    _together.events = []
    try:
        yield
        pending: list[tuple[Workspace, AuditEvent]] = _together.events
    finally:
        _together.events = None
    by_workspace: dict[Any, tuple[Workspace, list[AuditEvent]]] = {}
    for workspace, event in pending:
        by_workspace.setdefault(workspace.pk, (workspace, []))[1].append(event)
    for workspace, events in by_workspace.values():
        _append(workspace, events)


#: Audited reads: they extend the chain but change nothing, so they leave the revision alone.
READ_ACTIONS = frozenset({"secrets.load", "secret.reveal"})

# workspace id -> (sequence, digest) of the last event this process committed.
_chain_heads: dict[Any, tuple[int, str]] = {}


def head_seal(mac_key: bytes, sequence: int, digest: str) -> str:
    """HMAC sealing the head row: no row of the chain holds it, so a head set back to an
    earlier event (to hide a removed trailing one) needs the audit key to forge."""
    return hmac.new(mac_key, b"head\x00%d\x00%s" % (sequence, digest.encode("ascii")), "sha256").hexdigest()


def _read_head(workspace: Workspace, mac_key: bytes) -> tuple[int, str]:
    """The committed head ``(sequence, digest)``; creates the head row when there is none.

    A workspace gets its row with its first event. A row missing while events
    exist means someone removed it: it is rebuilt from the last event (so that
    writes keep working) and the fact is logged; ``verify_chain`` reported it
    until then.
    """
    from secretvault.models import AuditEvent, WorkspaceHead

    row = WorkspaceHead.objects.filter(workspace_id=workspace.pk).values_list("sequence", "digest").first()
    if row is not None:
        return row
    newest = (
        AuditEvent.objects.filter(workspace=workspace, sequence__isnull=False)
        .order_by("-sequence")
        .values_list("sequence", "chain_digest")
        .first()
    )
    last = (cast(int, newest[0]), newest[1]) if newest else (0, "")  # NULL sequences are filtered out
    if last[0]:
        logger.error(
            "secretvault audit: workspace %r had events but no chain head; rebuilt it at event %d.",
            workspace.slug,
            last[0],
        )
    try:
        with transaction.atomic():
            WorkspaceHead.objects.create(
                workspace_id=workspace.pk,
                sequence=last[0],
                digest=last[1],
                seal=head_seal(mac_key, last[0], last[1]),
            )
    except IntegrityError:
        pass  # created meanwhile by another appender
    return WorkspaceHead.objects.filter(workspace_id=workspace.pk).values_list("sequence", "digest").get()


def _remember_head_on_commit(workspace_id: Any, head: tuple[int, str]) -> None:
    """Cache the new head only once it is committed: a rolled-back event must not be linked to."""

    def remember() -> None:
        known = _chain_heads.get(workspace_id)
        if known is None or known[0] < head[0]:
            _chain_heads[workspace_id] = head

    transaction.on_commit(remember)


def forget_chain_heads() -> None:
    """Forget every cached chain head; the next append reads the head from the database.

    Runs by itself whenever ``settings.SECRETVAULT`` changes (``setting_changed``);
    tests call it between tests, whose rolled-back events the cache may still name.
    """
    _chain_heads.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        forget_chain_heads()


setting_changed.connect(_on_setting_changed, dispatch_uid="secretvault.audit.forget_chain_heads")


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
    a broken link), removed trailing rows (the chain ends before the head row's
    sequence, or the head's seal or digest does not match: issue #10.6), and
    writes whose event is missing (a stored secret version with no matching
    audit event).
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
        sequence = cast(int, event.sequence)  # NULL sequences are filtered out
        if sequence != expected:
            problems.append(f"events {expected}..{sequence - 1} are missing")
        digest = crypto.chain_digest(mac_key, previous, event.chain_message())
        if not hmac.compare_digest(digest, event.chain_digest):
            problems.append(f"event {event.sequence} ({event.action}) does not match its digest")
        if event.action in _VERSION_WRITES and event.version is not None:
            recorded_writes.add((event.key, event.version))
        previous = event.chain_digest
        expected = sequence + 1
    problems.extend(_head_problems(workspace, mac_key, last=expected - 1, last_digest=previous))
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


def _head_problems(workspace: Workspace, mac_key: bytes, *, last: int, last_digest: str) -> list[str]:
    """Compare the chain's last event with the head row written beside every append."""
    from secretvault.models import WorkspaceHead

    head = (
        WorkspaceHead.objects.filter(workspace_id=workspace.pk)
        .values_list("sequence", "digest", "seal")
        .first()
    )
    if head is None:
        return [f"the chain head is missing (the chain ends at event {last})"] if last else []
    sequence, digest, seal = head
    problems = []
    if not hmac.compare_digest(seal, head_seal(mac_key, sequence, digest)):
        problems.append("the chain head does not match its seal (it was edited)")
    if sequence > last:
        problems.append(f"events {last + 1}..{sequence} at the end of the chain are missing")
    elif sequence < last:
        problems.append(f"the chain head records event {sequence} but the chain ends at event {last}")
    elif not hmac.compare_digest(digest, last_digest):
        problems.append(f"the last event ({last}) is not the one the chain head records")
    return problems


_VERSION_WRITES = {"secret.create", "secret.update", "secret.rollback", "secret.import"}


def record_member(action: str, member: Any, actor: Actor | None, **extra: Any) -> None:
    """Audit a membership change (``member.add|change|remove``): who (``user:…`` or
    ``group:…``), role and environments; never a value."""
    record(
        action,
        workspace=member.workspace,
        actor=actor,
        detail={
            "member": member.principal_label,
            "role": member.role,
            "envs": sorted(env.slug for env in member.envs.all()),
            **extra,
        },
    )
