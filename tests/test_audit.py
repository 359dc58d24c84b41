"""The audit trail: append-only, chained with an HMAC, never holding a value."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from secretvault import bulk, crypto, services
from secretvault.audit import verify_chain
from secretvault.models import AuditEvent
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(workspace, make_secret, make_token, prd, user_actor):
    secret = make_secret("API_KEY", "first", actor=user_actor)
    services.set_value(secret, "second", actor=user_actor)
    services.rollback(secret, 1, actor=user_actor)
    services.reveal(secret, actor=user_actor)
    services.load(workspace, env="prd")
    token, _ = make_token()
    services.revoke_token(token)
    return secret


def raw_sql(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_chain_is_sequential_and_verifies(workspace, history):
    events = list(AuditEvent.objects.filter(workspace=workspace).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(len(e.chain_digest) == 64 for e in events)
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert report.checked == len(events) == 9


def test_edited_row_is_detected(workspace, history):
    target = AuditEvent.objects.get(workspace=workspace, action="secret.rollback")
    raw_sql("UPDATE secretvault_auditevent SET username = %s WHERE id = %s", ["someone-else", target.pk.hex])
    report = verify_chain(workspace)
    assert not report.ok
    assert any(f"event {target.sequence} (secret.rollback)" in p for p in report.problems)


def test_edited_detail_is_detected(workspace, history):
    target = AuditEvent.objects.get(workspace=workspace, action="secrets.load")
    raw_sql("UPDATE secretvault_auditevent SET detail = %s WHERE id = %s", ['{"env": "dev"}', target.pk.hex])
    assert not verify_chain(workspace).ok


def test_deleted_row_is_detected(workspace, history):
    target = AuditEvent.objects.get(workspace=workspace, action="secret.reveal")
    raw_sql("DELETE FROM secretvault_auditevent WHERE id = %s", [target.pk.hex])
    report = verify_chain(workspace)
    assert any("missing" in p for p in report.problems)


def test_deleted_last_write_event_is_detected(workspace, make_secret):
    secret = make_secret("K", "v1")
    services.set_value(secret, "v2")
    last = AuditEvent.objects.filter(workspace=workspace).order_by("-sequence").first()
    assert last.action == "secret.update"
    raw_sql("DELETE FROM secretvault_auditevent WHERE id = %s", [last.pk.hex])
    report = verify_chain(workspace)
    assert report.problems == [
        f"events {last.sequence}..{last.sequence} at the end of the chain are missing",
        "1 stored version(s) have no audit event: K v2",
    ]


def _override(ws, env):
    services.create_secret(ws, key="SHARED", value="global")
    services.create_secret(ws, key="SHARED", value="prd", envs=["prd"])


def _metadata(ws, env):
    services.update_secret(services.create_secret(ws, key="M", value="v"), description="new text")


def _revoke(ws, env):
    services.revoke_secret(services.create_secret(ws, key="R", value="v"))


def _restore(ws, env):
    secret = services.create_secret(ws, key="R", value="v")
    services.revoke_secret(secret)
    services.restore_secret(secret)


def _token_create(ws, env):
    services.create_token(ws, name="ci")


def _token_revoke(ws, env):
    services.revoke_token(services.create_token(ws, name="ci")[0])


def _delete(ws, env):
    services.delete_secret(services.create_secret(ws, key="D", value="v"))


def _rollback(ws, env):
    secret = services.create_secret(ws, key="B", value="v1")
    services.set_value(secret, "v2")
    services.rollback(secret, 1)


def _reveal(ws, env):
    services.reveal(services.create_secret(ws, key="V", value="v"))


def _load(ws, env):
    services.create_secret(ws, key="L", value="v")
    services.load(ws, env="prd")


def _env_create(ws, env):
    services.create_environment(ws, slug="qa")


def _env_update(ws, env):
    services.update_environment(env, name="Production!")


def _env_delete(ws, env):
    services.delete_environment(services.create_environment(ws, slug="qa"))


def _rotate_data_key(ws, env):
    services.create_secret(ws, key="K", value="v")
    bulk.rotate_data_key(ws)


TRAILING = {
    "override beside a global": _override,
    "metadata-only update": _metadata,
    "revoke": _revoke,
    "restore": _restore,
    "token creation": _token_create,
    "token revocation": _token_revoke,
    "delete": _delete,
    "rollback": _rollback,
    "reveal": _reveal,
    "load": _load,
    "environment create": _env_create,
    "environment update": _env_update,
    "environment delete": _env_delete,
    "data key rotation": _rotate_data_key,
}


@pytest.mark.parametrize("kind", list(TRAILING), ids=list(TRAILING))
def test_removed_trailing_event_of_every_kind_is_detected(workspace, prd, kind):
    """Issue #10.6: the head row outside the events shows a removed newest event."""
    TRAILING[kind](workspace, prd)
    assert verify_chain(workspace).ok
    last = AuditEvent.objects.filter(workspace=workspace).order_by("-sequence").first()
    raw_sql("DELETE FROM secretvault_auditevent WHERE id = %s", [last.pk.hex])
    report = verify_chain(workspace)
    assert f"events {last.sequence}..{last.sequence} at the end of the chain are missing" in report.problems


def test_a_head_set_back_or_removed_is_detected(workspace, prd):
    from secretvault.models import WorkspaceHead

    services.create_token(workspace, name="one")
    earlier = WorkspaceHead.objects.values_list("sequence", "digest", "seal").get(workspace=workspace)
    services.create_token(workspace, name="two")
    last = AuditEvent.objects.filter(workspace=workspace).order_by("-sequence").first()
    raw_sql("DELETE FROM secretvault_auditevent WHERE id = %s", [last.pk.hex])
    # Set back to the event before, with a made-up seal: the seal needs the audit key.
    previous = AuditEvent.objects.get(workspace=workspace, sequence=last.sequence - 1)
    raw_sql(
        "UPDATE secretvault_workspacehead SET sequence = %s, digest = %s, seal = %s",
        [previous.sequence, previous.chain_digest, "0" * 64],
    )
    assert verify_chain(workspace).problems == ["the chain head does not match its seal (it was edited)"]
    # Only a head copied whole from that earlier moment (a backup) passes.
    raw_sql("UPDATE secretvault_workspacehead SET sequence = %s, digest = %s, seal = %s", list(earlier))
    assert verify_chain(workspace).ok
    raw_sql("DELETE FROM secretvault_workspacehead", [])
    assert verify_chain(workspace).problems == [
        f"the chain head is missing (the chain ends at event {previous.sequence})"
    ]


def test_writes_move_the_revision_and_reads_do_not(workspace, prd, make_secret):
    from secretvault.models import WorkspaceHead

    def revision() -> int:
        return WorkspaceHead.objects.get(workspace=workspace).revision

    secret = make_secret("K", "v")
    start = revision()
    services.reveal(secret)
    services.load(workspace)
    assert revision() == start
    services.update_secret(secret, description="d")
    services.revoke_secret(secret)
    services.create_token(workspace, name="t")
    assert revision() == start + 3


def test_forged_digest_needs_the_audit_key(workspace, history):
    """Recomputing a digest with any key but the workspace's wrapped audit key fails."""
    target = AuditEvent.objects.get(workspace=workspace, action="secret.reveal")
    before = AuditEvent.objects.get(workspace=workspace, sequence=target.sequence - 1)
    raw_sql("UPDATE secretvault_auditevent SET key = %s WHERE id = %s", ["OTHER", target.pk.hex])
    target.refresh_from_db()
    guessed = crypto.chain_digest(b"\0" * 32, before.chain_digest, target.chain_message())
    raw_sql("UPDATE secretvault_auditevent SET chain_digest = %s WHERE id = %s", [guessed, target.pk.hex])
    assert not verify_chain(workspace).ok


def test_chain_survives_master_key_rotation(workspace, history):
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        bulk.rotate_master_key()
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2]}):
        services.set_value(history, "after rotation")
        bulk.rotate_data_key(workspace)
        workspace.refresh_from_db()
        report = verify_chain(workspace)
    assert report.ok, report.problems


def test_workspaces_have_separate_chains(workspace, other_workspace, make_secret):
    make_secret("A", "v")
    make_secret("B", "v", workspace=other_workspace)
    assert verify_chain(workspace).ok and verify_chain(other_workspace).ok
    assert AuditEvent.objects.filter(workspace=other_workspace, sequence=1).exists()


def test_events_without_a_workspace_are_unchained(db):
    from secretvault import audit

    event = audit.record("auth.failed", workspace=None, detail={"reason": "unknown token"})
    assert event.sequence is None and event.chain_digest == ""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_the_chain_whole(workspace):
    from tests.threads import run_threads

    secret = services.create_secret(workspace, key="K", value="v")

    def write(index: int) -> None:
        for n in range(10):
            if n % 2:
                services.set_value(secret, f"{index}-{n}")
            else:
                services.load(workspace)

    assert run_threads(6, write) == []
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert report.checked == AuditEvent.objects.filter(workspace=workspace).count()


@pytest.mark.django_db(transaction=True)
def test_rolled_back_event_is_never_linked_to(workspace, make_secret):
    from django.db import transaction

    secret = make_secret("K", "v1")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.set_value(secret, "v2")  # appends an event, then ...
            raise RuntimeError("... the request fails and everything rolls back")
    secret.refresh_from_db()
    services.set_value(secret, "v3")
    report = verify_chain(workspace)
    assert report.ok, report.problems


@pytest.mark.django_db(transaction=True)
def test_stale_cached_head_recovers(workspace, make_secret):
    """Another worker appended since this one cached its head: the insert collides and retries."""
    from secretvault import audit

    secret = make_secret("K", "v1")
    cached = audit._chain_heads[workspace.pk]
    services.set_value(secret, "v2")
    audit._chain_heads[workspace.pk] = cached  # as if the last append came from elsewhere
    # The head's compare-and-set moves no row; the append reads the head and retries.
    services.set_value(secret, "v3")
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert audit._chain_heads[workspace.pk][0] == AuditEvent.objects.filter(workspace=workspace).count()


def test_audit_verify_command(workspace, history, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("secretvault", "audit", "verify", "-w", "acme")
    assert "verified: 9 events intact" in capsys.readouterr().out
    target = AuditEvent.objects.get(workspace=workspace, action="secret.reveal")
    raw_sql("DELETE FROM secretvault_auditevent WHERE id = %s", [target.pk.hex])
    with pytest.raises(CommandError, match="audit chain of workspace 'acme' is broken"):
        call_command("secretvault", "audit", "verify", "-w", "acme")
    out = capsys.readouterr().out
    assert f"BROKEN: events {target.sequence}..{target.sequence} are missing" in out
    assert f"BROKEN: event {target.sequence + 1} (secrets.load) does not match its digest" in out


@pytest.mark.parametrize(
    "detail",
    [
        {},
        {"env": None, "versions": {"A": 1, "B_é": 2, "Z": 30}},
        {"reason": 'naïve \u2603 "quoted"\n', "nested": {"b": [1, 2.5, None, True], "a": {}}},
    ],
)
def test_the_spliced_chain_message_is_the_json_of_the_whole_list(workspace, detail):
    import datetime as dt
    import json

    event = AuditEvent(
        workspace=workspace,
        action="secrets.load",
        key="K",
        version=3,
        username="ann",
        token_id="",
        remote_addr="2001:db8::1",
        detail=detail,
        sequence=7,
    )
    message, detail_json = event.chain_message_and_detail()
    whole = [
        7,
        str(workspace.pk),
        "secrets.load",
        "K",
        3,
        None,
        "ann",
        "",
        "2001:db8::1",
        detail,
        event.created_at.astimezone(dt.timezone.utc).isoformat(),
    ]
    assert message == json.dumps(whole, sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(detail_json) == detail
    assert event.chain_message() == message


@pytest.mark.django_db(transaction=True)
def test_the_written_append_stores_what_the_orm_would_and_chains(workspace, make_secret, user_actor):
    """With the committed head cached, an append is the SQL written once (``_ChainAppend``):
    one statement on PostgreSQL, two on SQLite; the row reads back as recorded."""
    from django.db.models.signals import post_save
    from django.test.utils import CaptureQueriesContext

    from secretvault import audit
    from secretvault.audit import Actor
    from secretvault.errors import SecretVaultError

    make_secret("K", "v1")
    assert workspace.pk in audit._chain_heads  # committed: the next append takes the written path
    seen: list[AuditEvent] = []

    def listener(sender, instance, created, **kwargs):
        seen.append(instance)

    actor = Actor(user=user_actor.user, remote_addr="2001:db8::7")
    post_save.connect(listener, sender=AuditEvent)
    try:
        with CaptureQueriesContext(connection) as queries:
            event = audit.record(
                "secrets.load",
                workspace=workspace,
                actor=actor,
                detail={"env": "prd", "versions": {"K": 1, "É": 2}},
            )
    finally:
        post_save.disconnect(listener, sender=AuditEvent)
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2), writes
    assert seen == [event]
    stored = AuditEvent.objects.get(pk=event.pk)
    for name in ("action", "key", "version", "user_id", "username", "token_id", "remote_addr", "detail"):
        assert getattr(stored, name) == getattr(event, name), name
    assert stored.created_at == event.created_at
    assert (stored.sequence, stored.chain_digest) == (event.sequence, event.chain_digest)
    assert stored.chain_message() == event.chain_message()
    with pytest.raises(SecretVaultError):
        event.save()  # inserted: append-only from here on
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert audit._chain_heads[workspace.pk] == (event.sequence, event.chain_digest)


@pytest.mark.django_db(transaction=True)
def test_a_written_append_behind_a_moved_head_inserts_nothing_and_falls_back(workspace, make_secret):
    """The compare-and-set finds the head moved elsewhere: the combined statement inserts no
    event (no unchained row), and the append takes the slot from the committed head."""
    from secretvault import audit

    make_secret("K", "v1")
    stale = audit._chain_heads[workspace.pk]
    services.load(workspace)
    audit._chain_heads[workspace.pk] = stale
    before = AuditEvent.objects.filter(workspace=workspace).count()
    services.load(workspace)
    assert AuditEvent.objects.filter(workspace=workspace).count() == before + 1
    assert not AuditEvent.objects.filter(workspace=workspace, sequence__isnull=True).exists()
    report = verify_chain(workspace)
    assert report.ok, report.problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_load_outside_a_transaction_appends_in_one_statement_of_its_own(
    workspace, make_secret, monkeypatch
):
    """PostgreSQL, autocommit, committed head cached: the compare-and-set-and-insert is the whole
    transaction (no atomic block, so no BEGIN/COMMIT round trip); the chain stays whole."""
    from secretvault import audit

    make_secret("K", "v1")
    assert workspace.pk in audit._chain_heads

    def no_atomic(*args, **kwargs):
        raise AssertionError("the append opened a transaction")

    with monkeypatch.context() as patch:
        patch.setattr(audit.transaction, "atomic", no_atomic)
        services.load(workspace)
        services.load(workspace)
    stale = audit._chain_heads[workspace.pk]
    services.load(workspace)
    audit._chain_heads[workspace.pk] = stale  # another worker appended since: the slot path
    services.load(workspace)
    report = verify_chain(workspace)
    assert report.ok, report.problems
    assert report.checked == AuditEvent.objects.filter(workspace=workspace).count()
