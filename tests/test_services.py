"""The write paths: conflicts, versions, rollback, revoke, validation, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from secretvault import services, signals
from secretvault.audit import Actor
from secretvault.errors import (
    DuplicateKeyError,
    InUseError,
    UnknownVersionError,
    VersionMismatchError,
)
from secretvault.models import AuditEvent, Environment, Secret, SecretVersion, Workspace

pytestmark = pytest.mark.django_db

FUTURE = timezone.now() + dt.timedelta(days=3)


def versions(secret) -> list[tuple[int, str, int | None]]:
    return list(
        SecretVersion.objects.filter(secret=secret)
        .order_by("version")
        .values_list("version", "action", "source_version")
    )


def snapshot() -> tuple[int, int, int]:
    return Secret.objects.count(), SecretVersion.objects.count(), AuditEvent.objects.count()


# --------------------------------------------------------------------------
# Workspaces and environments


def test_workspace_gets_a_wrapped_data_key(workspace):
    assert workspace.master_key_id == "test-1"
    assert len(workspace.data_key_id) == 16
    assert bytes(workspace.wrapped_data_key)[0] == 1
    assert len(workspace.cipher().encrypt(b"\0" * 12, b"x", None)) == 17


def test_workspace_slug_rules(db):
    with pytest.raises(ValidationError) as excinfo:
        services.create_workspace(slug="Not Valid")
    assert "slug" in excinfo.value.message_dict
    for bad in ("-x", "x-", "a" * 51, ""):
        with pytest.raises(ValidationError):
            services.create_workspace(slug=bad)
    services.create_workspace(slug="a" * 50)
    services.create_workspace(slug="x")
    assert Workspace.objects.count() == 2


def test_duplicate_slugs_conflict(workspace, dev):
    with pytest.raises(Exception) as excinfo:
        services.create_workspace(slug="acme")
    assert "already exists" in str(excinfo.value)
    with pytest.raises(Exception, match="already has an environment"):
        services.create_environment(workspace, slug="dev")


def test_environment_in_use_cannot_be_deleted(workspace, dev, prd, make_secret, make_token):
    make_secret("A", "v", envs=["dev"])
    make_token(envs=["prd"])
    with pytest.raises(InUseError):
        services.delete_environment(dev)
    with pytest.raises(InUseError):
        services.delete_environment(prd)
    # Not even through a bulk queryset delete.
    with pytest.raises(Exception, match="protected"):
        Environment.objects.filter(pk=dev.pk).delete()
    assert Environment.objects.filter(workspace=workspace).count() == 2
    unused = services.create_environment(workspace, slug="qa")
    services.delete_environment(unused)
    assert not Environment.objects.filter(slug="qa").exists()


def test_workspace_holding_secrets_or_tokens_cannot_be_deleted(
    workspace, other_workspace, make_secret, make_token
):
    make_secret("A", "v")
    with pytest.raises(InUseError):
        services.delete_workspace(workspace)
    make_token(workspace=other_workspace)
    with pytest.raises(InUseError):
        services.delete_workspace(other_workspace)
    empty = services.create_workspace(slug="empty")
    services.delete_workspace(empty)
    assert set(Workspace.objects.values_list("slug", flat=True)) == {"acme", "globex"}


# --------------------------------------------------------------------------
# Key conflicts


def test_key_uniqueness_rule(make_secret, dev, prd, workspace):
    make_secret("K", "global")
    with pytest.raises(DuplicateKeyError):
        make_secret("K", "another global")
    make_secret("K", "dev", envs=["dev"])  # global + specific coexist
    with pytest.raises(DuplicateKeyError, match="dev"):
        make_secret("K", "dev and prd", envs=["dev", "prd"])  # overlaps dev
    make_secret("K", "prd", envs=["prd"])  # disjoint
    qa = services.create_environment(workspace, slug="qa")
    assert qa
    assert Secret.objects.filter(key="K").count() == 3
    # The same key in another workspace never conflicts.
    other = services.create_workspace(slug="other")
    services.create_secret(other, key="K", value="x")


def test_changing_envs_checks_conflicts(make_secret, dev, prd):
    make_secret("K", "dev", envs=["dev"])
    prd_secret = make_secret("K", "prd", envs=["prd"])
    before = snapshot()
    with pytest.raises(DuplicateKeyError):
        services.update_secret(prd_secret, envs=["prd", "dev"], description="changed")
    prd_secret.refresh_from_db()
    assert prd_secret.env_slugs() == ["prd"] and prd_secret.description == ""
    assert snapshot() == before
    services.update_secret(prd_secret, envs=[])  # becomes the global one: allowed
    assert prd_secret.env_slugs() == []
    with pytest.raises(DuplicateKeyError):
        make_secret("K", "second global")


# --------------------------------------------------------------------------
# Versions


def test_value_writes_make_exactly_one_version(make_secret):
    secret = make_secret("K", "one")
    assert secret.current_version == 1
    services.update_secret(secret, value="two")
    services.set_value(secret, "three")
    assert versions(secret) == [(1, "create", None), (2, "update", None), (3, "update", None)]
    assert secret.current_version == 3
    assert services.reveal(secret) == "three"
    assert services.reveal(secret, version=1) == "one"


def test_metadata_or_same_value_makes_no_version(make_secret, dev):
    secret = make_secret("K", "one")
    services.update_secret(
        secret, description="d", token_type="api", scope=["api"], envs=["dev"], expires_at=FUTURE
    )
    services.update_secret(secret, value="one")
    secret.refresh_from_db()
    assert secret.current_version == 1 and versions(secret) == [(1, "create", None)]
    assert (secret.description, secret.token_type, secret.scope, secret.env_slugs()) == (
        "d",
        "api",
        ["api"],
        ["dev"],
    )


def test_rollback_writes_latest_plus_one(make_secret, user_actor):
    secret = make_secret("K", "one")
    services.set_value(secret, "two")
    services.set_value(secret, "three")
    services.rollback(secret, 1, actor=user_actor)
    assert secret.current_version == 4
    assert versions(secret)[-1] == (4, "rollback", 1)
    assert services.reveal(secret) == "one"
    assert SecretVersion.objects.get(secret=secret, version=4).created_by == user_actor.user
    with pytest.raises(UnknownVersionError):
        services.rollback(secret, 9)
    assert secret.current_version == 4


def test_check_and_set(make_secret):
    secret = make_secret("K", "one")
    services.update_secret(secret, value="two", expected_version=1)
    before = snapshot()
    with pytest.raises(VersionMismatchError) as excinfo:
        services.update_secret(secret, value="three", expected_version=1)
    assert (excinfo.value.expected, excinfo.value.current) == (1, 2)
    assert "three" not in str(excinfo.value)
    assert snapshot() == before


def test_max_versions_prunes_the_oldest(make_secret):
    with override_settings(SECRETVAULT={"MASTER_KEYS": [_key()], "MAX_VERSIONS": 2}):
        secret = make_secret("K", "v1")
        for value in ("v2", "v3", "v4"):
            services.set_value(secret, value)
        assert [v for v, _, _ in versions(secret)] == [3, 4]
        with pytest.raises(UnknownVersionError):
            services.rollback(secret, 1)
        services.rollback(secret, 3)
        assert [v for v, _, _ in versions(secret)] == [4, 5]


def _key() -> str:
    from tests.settings import TEST_MASTER_KEY

    return TEST_MASTER_KEY


def test_delete_removes_every_version(make_secret):
    secret = make_secret("K", "one")
    services.set_value(secret, "two")
    services.delete_secret(secret)
    assert not Secret.objects.exists() and not SecretVersion.objects.exists()
    assert AuditEvent.objects.filter(action="secret.delete", key="K", version=2).exists()


def test_revoke_and_restore(workspace, make_secret):
    secret = make_secret("K", "one")
    assert services.revoke_secret(secret) is True
    assert services.revoke_secret(secret) is False
    assert secret.is_revoked and not secret.is_active()
    assert services.load(workspace) == {}
    assert services.reveal(secret) == "one"  # revoked, not deleted
    assert services.restore_secret(secret) is True
    assert services.restore_secret(secret) is False
    assert services.load(workspace) == {"K": "one"}
    actions = list(AuditEvent.objects.filter(key="K").values_list("action", flat=True))
    assert actions.count("secret.revoke") == 1 and actions.count("secret.restore") == 1


# --------------------------------------------------------------------------
# Validation: a clear error and nothing written


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": "1ABC"}, "key"),
        ({"key": "WITH-DASH"}, "key"),
        ({"key": "A" * 256}, "key"),
        ({"value": 42}, "value"),
        ({"value": ["list"]}, "value"),
        ({"value": "nul\x00byte"}, "value"),
        ({"value": "x" * 65_537}, "value"),
        ({"value": "é" * 32_769}, "value"),  # 65,538 bytes of UTF-8
        ({"token_type": "password"}, "token_type"),
        ({"scope": ["bad tag"]}, "scope"),
        ({"scope": "api"}, "scope"),
        ({"envs": ["nope", "dev"]}, "envs"),
        ({"envs": "dev"}, "envs"),
        ({"expires_at": timezone.now() - dt.timedelta(seconds=1)}, "expires_at"),
        ({"description": 5}, "description"),
    ],
)
def test_invalid_input_is_refused_whole(workspace, dev, kwargs, field):
    arguments = {"key": "GOOD", "value": "fine", **kwargs}
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.create_secret(workspace, **arguments)
    assert field in excinfo.value.message_dict
    assert snapshot() == before
    if isinstance(arguments["value"], str) and len(arguments["value"]) > 3:
        assert arguments["value"] not in str(excinfo.value.message_dict)


def test_every_bad_field_is_reported_at_once(workspace):
    with pytest.raises(ValidationError) as excinfo:
        services.create_secret(workspace, key="1", value=3, envs=["ghost"], scope=["!"])
    assert set(excinfo.value.message_dict) == {"key", "value", "envs", "scope"}
    assert "ghost" in excinfo.value.message_dict["envs"][0]


def test_value_at_the_size_limit_is_accepted(workspace):
    services.create_secret(workspace, key="BIG", value="x" * 65_536)
    with override_settings(SECRETVAULT={"MASTER_KEYS": [_key()], "MAX_VALUE_BYTES": 10}):
        with pytest.raises(ValidationError, match="limit is 10"):
            services.create_secret(workspace, key="SMALL", value="x" * 11)


def test_failed_update_writes_nothing(make_secret):
    secret = make_secret("K", "one")
    before = snapshot()
    with pytest.raises(ValidationError):
        services.update_secret(secret, value="two", scope=["bad tag"])
    assert snapshot() == before
    assert services.reveal(secret) == "one"


# --------------------------------------------------------------------------
# Audit, actors, signals, and no value anywhere


def test_writes_are_audited_with_their_actor(workspace, superuser, make_token):
    token, _ = make_token(can_write=True)
    person = Actor(user=superuser, remote_addr="10.1.2.3")
    service = Actor(token=token)
    secret = services.create_secret(workspace, key="K", value="first-value", actor=person)
    services.set_value(secret, "second-value", actor=service)
    services.rollback(secret, 1, actor=person)
    events = list(AuditEvent.objects.filter(key="K").order_by("created_at"))
    assert [e.action for e in events] == ["secret.create", "secret.update", "secret.rollback"]
    assert (events[0].username, events[0].remote_addr, events[0].token_id) == ("root", "10.1.2.3", "")
    assert (events[1].username, events[1].token_id) == ("", token.token_id)
    assert events[1].actor == f"token:{token.token_id}"
    v1, v2, v3 = SecretVersion.objects.filter(secret=secret).order_by("version")
    assert v1.created_by == superuser and v2.created_by_token == token and v3.created_by == superuser


def test_no_value_in_audit_repr_or_str(workspace, make_secret, make_token, prd):
    value = "pa55-Value-Never-Shown"
    secret = make_secret("K", value, envs=["prd"])
    services.set_value(secret, value + "2")
    services.rollback(secret, 1)
    services.reveal(secret)
    services.load(workspace, env="prd")
    token, raw = make_token()
    texts = [repr(secret), str(secret), repr(token), str(token), repr(workspace)]
    for version in SecretVersion.objects.all():
        texts += [repr(version), str(version)]
    for event in AuditEvent.objects.all():
        texts += [repr(event), str(event), str(event.detail)]
    blob = "\n".join(texts)
    assert value not in blob
    assert raw not in blob and raw.split("_")[2][:43] not in blob
    load_event = AuditEvent.objects.get(action="secrets.load")
    assert load_event.detail == {"env": "prd", "versions": {"K": 3}}


def test_values_are_not_stored_in_plaintext(workspace, make_secret):
    value = "plaintext-canary-7731"
    secret = make_secret("CANARY", value)
    services.set_value(secret, value + "-2")
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM secretvault_secretversion")
        blobs = [bytes(row[0]) for row in cursor.fetchall()]
    assert len(blobs) == 2
    for blob in blobs:
        assert value.encode() not in blob
        assert blob[0] == 1  # format version header


def test_appendonly_audit(workspace):
    event = AuditEvent.objects.first()
    from secretvault.errors import SecretVaultError

    with pytest.raises(SecretVaultError):
        event.save()
    with pytest.raises(SecretVaultError):
        event.delete()
    with pytest.raises(SecretVaultError):
        AuditEvent.objects.all().update(key="x")
    with pytest.raises(SecretVaultError):
        AuditEvent.objects.all().delete()


def test_audit_rolls_back_with_the_write(workspace, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("crash after the audit event")

    monkeypatch.setattr(services, "_write_version", boom)
    before = snapshot()
    with pytest.raises(RuntimeError):
        services.create_secret(workspace, key="K", value="v")
    assert snapshot() == before


def test_signals_fire_after_commit(workspace, make_token, django_capture_on_commit_callbacks):
    seen: list[tuple[str, int]] = []

    def on_change(sender, secret, action, version, actor, **kwargs):
        seen.append((action, version))

    revoked: list[str] = []
    signals.secret_changed.connect(on_change)
    signals.token_revoked.connect(lambda sender, token, **kw: revoked.append(token.token_id), weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            secret = services.create_secret(workspace, key="K", value="v")
            services.set_value(secret, "w")
            token, _ = make_token()
            services.revoke_token(token)
    finally:
        signals.secret_changed.disconnect(on_change)
        signals.token_revoked.receivers.clear()
    assert seen == [("secret.create", 1), ("secret.update", 2)]
    assert revoked == [token.token_id]


def test_stats(workspace, make_secret):
    make_secret("A", "v")
    make_secret("B", "v", expires_at=timezone.now() + dt.timedelta(days=2))
    make_secret("C", "v", expires_at=timezone.now() + dt.timedelta(days=60))
    services.revoke_secret(make_secret("D", "v"))
    expiring = make_secret("E", "v", expires_at=timezone.now() + dt.timedelta(seconds=2))
    later = timezone.now() + dt.timedelta(seconds=3)
    assert expiring.is_expired(later)
    assert services.stats(workspace, now=later) == {
        "total": 5,
        "active": 3,
        "expired": 1,
        "expiring_soon": 1,
        "revoked": 1,
    }


def test_find_secret_route_rules(workspace, make_secret, dev, prd):
    from secretvault.errors import AmbiguousSecretError

    d = make_secret("K", "dev", envs=["dev"])
    assert services.find_secret(workspace, "K") == d  # the only one
    p = make_secret("K", "prd", envs=["prd"])
    with pytest.raises(AmbiguousSecretError, match="env"):
        services.find_secret(workspace, "K")
    assert services.find_secret(workspace, "K", env="prd") == p
    with pytest.raises(Secret.DoesNotExist):
        services.find_secret(workspace, "K", env="qa")
    g = make_secret("K", "global")
    assert services.find_secret(workspace, "K") == g
    assert services.find_secret(workspace, "K", env="qa") == g
    assert services.find_secret(workspace, "K", env="dev") == d
    with pytest.raises(Secret.DoesNotExist):
        services.find_secret(workspace, "MISSING")
