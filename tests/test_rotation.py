"""Master-key and data-key rotation: all-or-nothing, every value readable throughout."""

from __future__ import annotations

import pytest
from django.test import override_settings

from secretvault import bulk, crypto, services
from secretvault.errors import DecryptionError, MasterKeyError
from secretvault.models import AuditEvent, Secret, SecretVersion, Workspace
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

pytestmark = pytest.mark.django_db

NEW_FIRST = {"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}
NEW_ONLY = {"MASTER_KEYS": [TEST_MASTER_KEY_2]}


@pytest.fixture
def filled(workspace, other_workspace, make_secret):
    values = {}
    for ws in (workspace, other_workspace):
        for i in range(4):
            secret = make_secret(f"K{i}", f"{ws.slug}-value-{i}", workspace=ws)
            services.set_value(secret, f"{ws.slug}-value-{i}-v2")
            values[(ws.slug, f"K{i}")] = f"{ws.slug}-value-{i}-v2"
    return values


def all_values() -> dict[tuple[str, str], str]:
    crypto.reset_caches()
    result = {}
    for ws in Workspace.objects.all():
        for key, value in services.load(ws).items():
            result[(ws.slug, key)] = value
    return result


def test_rotate_master_key(filled):
    with override_settings(SECRETVAULT=NEW_FIRST):
        assert bulk.rotate_master_key(dry_run=True) == 2
        assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-1"}
        assert bulk.rotate_master_key() == 2
        assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-2"}
        assert bulk.rotate_master_key() == 0  # nothing left to do
    # The old key can now leave the keyring.
    with override_settings(SECRETVAULT=NEW_ONLY):
        assert all_values() == filled
    # And the old keyring alone can no longer unwrap.
    with pytest.raises(MasterKeyError):
        all_values()
    assert AuditEvent.objects.filter(action="workspace.rotate_master_key").count() == 2


def test_interrupted_master_rotation_leaves_each_workspace_whole(filled, monkeypatch):
    """One transaction per workspace: the first is re-wrapped, the second is as it was."""
    before = dict(Workspace.objects.values_list("pk", "master_key_id"))
    real = Workspace.save
    calls = {"n": 0}

    def crash_on_second(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "save", crash_on_second)
    with override_settings(SECRETVAULT=NEW_FIRST):
        with pytest.raises(RuntimeError):
            bulk.rotate_master_key()
    monkeypatch.setattr(Workspace, "save", real)
    after = dict(Workspace.objects.values_list("pk", "master_key_id"))
    assert sorted(after.values()) == ["test-1", "test-2"] and set(before.values()) == {"test-1"}
    with override_settings(SECRETVAULT=NEW_FIRST):
        assert all_values() == filled  # readable with the keyring that holds both
        assert bulk.rotate_master_key() == 1  # a re-run completes
        assert all_values() == filled
    with override_settings(SECRETVAULT=NEW_ONLY):
        assert all_values() == filled


def test_rotate_data_key(workspace, filled):
    old_id = workspace.data_key_id
    old_blobs = dict(
        SecretVersion.objects.filter(secret__workspace=workspace).values_list("pk", "ciphertext")
    )
    progress: list[tuple[int, int]] = []
    assert bulk.rotate_data_key(workspace, progress=lambda d, t: progress.append((d, t))) == 8
    assert progress[-1] == (8, 8)
    workspace.refresh_from_db()
    assert workspace.data_key_id != old_id
    rotated = SecretVersion.objects.filter(secret__workspace=workspace)
    assert set(rotated.values_list("data_key_id", flat=True)) == {workspace.data_key_id}
    for version in rotated:
        assert bytes(version.ciphertext) != bytes(old_blobs[version.pk])
        assert crypto.read_key_id(bytes(version.ciphertext)) == workspace.data_key_id
    assert all_values() == filled
    # Every historical version, not just the current one, is readable.
    for version in rotated:
        assert version.decrypt(workspace).startswith("acme-value-")


def test_rotate_data_key_dry_run_changes_nothing(workspace, filled):
    before = dict(SecretVersion.objects.values_list("pk", "ciphertext"))
    old_id = workspace.data_key_id
    assert bulk.rotate_data_key(workspace, dry_run=True) == 8
    workspace.refresh_from_db()
    assert workspace.data_key_id == old_id
    assert {k: bytes(v) for k, v in SecretVersion.objects.values_list("pk", "ciphertext")} == {
        k: bytes(v) for k, v in before.items()
    }


def test_interrupted_data_key_rotation_keeps_every_value_readable(workspace, filled, monkeypatch):
    """Batches commit one by one: killed mid-way, the workspace keeps both keys, and a re-run
    resumes with the same new key."""
    from secretvault import bulk

    old_id = workspace.data_key_id
    batches = {"n": 0}

    def crash_on_second_batch(batch):
        batches["n"] += 1
        if batches["n"] == 2:
            raise RuntimeError("killed mid-way")

    monkeypatch.setattr(bulk, "before_batch_write", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        bulk.rotate_data_key(workspace, batch_size=3)
    monkeypatch.undo()
    workspace.refresh_from_db()
    new_id = workspace.data_key_id
    assert new_id != old_id and workspace.previous_data_key_id == old_id
    by_key = list(
        SecretVersion.objects.filter(secret__workspace=workspace).values_list("data_key_id", flat=True)
    )
    assert sorted(by_key) == sorted([new_id] * 3 + [old_id] * 5)  # one batch of 3 committed
    assert all_values() == filled
    for version in SecretVersion.objects.filter(secret__workspace=workspace).select_related("secret"):
        assert version.decrypt(workspace).startswith("acme-value-")
    # Writes meanwhile use the new key and stay readable.
    secret = Secret.objects.get(workspace=workspace, key="K0")
    services.set_value(secret, "written mid-rotation")
    assert SecretVersion.objects.get(secret=secret, version=3).data_key_id == new_id
    filled[("acme", "K0")] = "written mid-rotation"
    assert bulk.rotate_data_key(workspace, batch_size=3) == 5
    workspace.refresh_from_db()
    assert workspace.data_key_id == new_id and workspace.previous_data_key_id == ""
    assert workspace.previous_wrapped_data_key is None
    assert set(
        SecretVersion.objects.filter(secret__workspace=workspace).values_list("data_key_id", flat=True)
    ) == {new_id}
    assert all_values() == filled


def test_tampered_wrapped_key_or_misplaced_ciphertext_raise(workspace, make_secret):
    a = make_secret("A", "alpha")
    b = make_secret("B", "bravo")
    # Copy A's ciphertext into B's row: it must not decrypt as B.
    blob = SecretVersion.objects.get(secret=a).ciphertext
    SecretVersion.objects.filter(secret=b).update(ciphertext=blob)
    with pytest.raises(DecryptionError):
        services.reveal(b)
    with pytest.raises(DecryptionError):
        services.load(workspace)
    # A flipped byte in the stored wrapped data key.
    wrapped = bytearray(workspace.wrapped_data_key)
    wrapped[-1] ^= 0x80
    Workspace.objects.filter(pk=workspace.pk).update(wrapped_data_key=bytes(wrapped))
    crypto.reset_caches()
    a = Secret.objects.select_related("workspace").get(pk=a.pk)
    with pytest.raises(DecryptionError):
        services.reveal(a)


def test_forged_master_key_id_column_is_refused(workspace, make_secret):
    secret = make_secret("A", "alpha")
    Workspace.objects.filter(pk=workspace.pk).update(master_key_id="test-2")
    crypto.reset_caches()
    secret.workspace.refresh_from_db()
    with override_settings(SECRETVAULT=NEW_FIRST):
        with pytest.raises(DecryptionError, match="does not name"):
            services.reveal(secret)
