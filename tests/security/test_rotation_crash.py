"""Rotations killed with SIGKILL at random moments leave every value readable (PostgreSQL)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from secretvault import crypto, services
from secretvault.models import Secret, SecretVersion, VersionAction, Workspace
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SECRETS = 2000


def fill(workspace: Workspace) -> dict[str, str]:
    """2,000 secrets with one version each, written in bulk (the same rows the service writes)."""
    values = {f"KEY_{i:05d}": f"value-{i}-{os.urandom(6).hex()}" for i in range(SECRETS)}
    rows = [Secret(workspace=workspace, key=key, current_version=1) for key in values]
    Secret.objects.bulk_create(rows)
    SecretVersion.objects.bulk_create(
        SecretVersion(
            secret=secret,
            version=1,
            ciphertext=secret.encrypt(values[secret.key], 1, workspace)[1],
            data_key_id=workspace.data_key_id,
            action=VersionAction.IMPORT,
        )
        for secret in rows
    )
    return values


def readable(workspace_pk, keyring: list[str]) -> dict[str, str]:
    """Every value, decrypted afresh with ``keyring`` (no cached key)."""
    from django.test import override_settings

    with override_settings(SECRETVAULT={"MASTER_KEYS": keyring}):
        crypto.reset_caches()
        workspace = Workspace.objects.get(pk=workspace_pk)
        return services.decrypt_resolved(workspace, Secret.objects.resolve(workspace))


def command(*args: str, keyring: list[str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "SECRETVAULT_MASTER_KEYS": ",".join(keyring),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "secretvault", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _database_url() -> str:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}"


def kill_at_random(args: list[str], keyring: list[str], full_run: float, rng: random.Random) -> str:
    process = command(*args, keyring=keyring)
    time.sleep(rng.uniform(0.1, full_run * 1.1))
    state = "finished before the kill" if process.poll() is not None else "killed"
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return state


@pytest.mark.parametrize("kind", ["rotate-data-key", "rotate-master-key"])
def test_sigkill_during_rotation_never_loses_a_value(kind):
    workspace = services.create_workspace(slug="crash")
    expected = fill(workspace)
    old_ring, new_ring = [TEST_MASTER_KEY], [TEST_MASTER_KEY_2, TEST_MASTER_KEY]
    args = ["rotate-data-key", "-w", "crash"] if kind == "rotate-data-key" else ["rotate-master-key"]
    keyring = old_ring if kind == "rotate-data-key" else new_ring

    # How long an uninterrupted run takes here (a dry run does all the decryption work).
    start = time.monotonic()
    dry = command(*args, "--dry-run", keyring=keyring)
    out, err = dry.communicate(timeout=120)
    assert dry.returncode == 0, err
    full_run = time.monotonic() - start

    rng = random.Random(int(os.environ.get("CRASH_SEED", "0")) or None)
    outcomes = []
    for _ in range(5):
        outcomes.append(kill_at_random(args, keyring, full_run, rng))
        assert readable(workspace.pk, keyring) == expected
    assert "killed" in outcomes

    finish = command(*args, keyring=keyring)
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    assert readable(workspace.pk, keyring) == expected
    workspace.refresh_from_db()
    if kind == "rotate-master-key":
        assert workspace.master_key_id == "test-2"
        assert readable(workspace.pk, [TEST_MASTER_KEY_2]) == expected  # the old key can go
    else:
        assert set(SecretVersion.objects.values_list("data_key_id", flat=True)) == {workspace.data_key_id}
