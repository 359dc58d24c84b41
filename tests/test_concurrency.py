"""Concurrent writers on PostgreSQL: gap-free versions, race-free key conflicts."""

from __future__ import annotations

import pytest

from secretvault import bulk, services
from secretvault.errors import DuplicateKeyError
from secretvault.models import Secret, SecretVersion
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_writes_give_gap_free_versions(workspace):
    secret = services.create_secret(workspace, key="COUNTER", value="start")

    def write(index: int) -> None:
        mine = Secret.objects.get(pk=secret.pk)
        for n in range(25):
            services.set_value(mine, f"writer-{index}-write-{n}")

    assert run_threads(8, write) == []
    numbers = list(
        SecretVersion.objects.filter(secret=secret).order_by("version").values_list("version", flat=True)
    )
    assert numbers == list(range(1, 202))
    secret.refresh_from_db()
    assert secret.current_version == 201
    # Every version decrypts under its own number.
    for version in SecretVersion.objects.filter(secret=secret):
        assert version.decrypt(workspace).startswith(("writer-", "start"))


def test_concurrent_creates_of_one_key_admit_exactly_one(workspace, dev, prd):
    outcomes: list[str] = []

    def create(index: int) -> None:
        envs = [["dev"], ["dev", "prd"], ["prd", "dev"], ["dev"]][index % 4]
        try:
            services.create_secret(workspace, key="RACE", value=f"v{index}", envs=envs)
            outcomes.append("created")
        except DuplicateKeyError:
            outcomes.append("conflict")

    assert run_threads(8, create) == []
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
    assert Secret.objects.filter(key="RACE").count() == 1


def test_concurrent_global_creates_admit_exactly_one(workspace):
    outcomes: list[str] = []

    def create(index: int) -> None:
        try:
            services.create_secret(workspace, key="GLOBAL_RACE", value=f"v{index}")
            outcomes.append("created")
        except DuplicateKeyError:
            outcomes.append("conflict")

    assert run_threads(8, create) == []
    assert outcomes.count("created") == 1
    assert Secret.objects.filter(key="GLOBAL_RACE").count() == 1


def test_disjoint_concurrent_creates_all_succeed(workspace):
    for slug in ("e0", "e1", "e2", "e3"):
        services.create_environment(workspace, slug=slug)

    def create(index: int) -> None:
        services.create_secret(workspace, key="PER_ENV", value="v", envs=[f"e{index}"])

    assert run_threads(4, create) == []
    assert Secret.objects.filter(key="PER_ENV").count() == 4


def test_writes_during_data_key_rotation_stay_readable(workspace):
    """A value written while rotate_data_key runs is sealed under the key that ends up stored."""
    from secretvault import crypto
    from secretvault.models import Workspace

    secrets_ = [services.create_secret(workspace, key=f"K{i}", value="start") for i in range(4)]

    def work(index: int) -> None:
        if index == 0:
            for _ in range(4):
                bulk.rotate_data_key(Workspace.objects.get(pk=workspace.pk))
            return
        mine = Secret.objects.get(pk=secrets_[index % 4].pk)
        for n in range(15):
            services.set_value(mine, f"writer-{index}-{n}")

    assert run_threads(5, work) == []
    crypto.reset_caches()
    fresh = Workspace.objects.get(pk=workspace.pk)
    versions = SecretVersion.objects.filter(secret__workspace=fresh)
    assert versions.count() == 4 + 4 * 15
    assert set(versions.values_list("data_key_id", flat=True)) == {fresh.data_key_id}
    for version in versions:
        version.decrypt(fresh)
