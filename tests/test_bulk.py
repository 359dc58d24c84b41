"""Bulk jobs never freeze a workspace (issue #17.3).

While an import or a rotation runs, paused in the middle of a batch (holding
whatever that batch holds), a ``load`` and a value write of the same workspace
complete. Their connection has a PostgreSQL ``lock_timeout``: waiting on the
job's locks would fail them instead of hanging. No time is asserted: each test
checks that the request finished while the job was still paused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.crypto import get_random_string

from secretvault import audit, bulk, services
from secretvault.audit import verify_chain
from secretvault.errors import DuplicateKeyError
from secretvault.models import AuditEvent, Secret, SecretVersion, Workspace

PAUSE_LIMIT = 60  # seconds a paused job waits before giving up (a hung test, not a timing)


class PausedJob:
    """Runs ``job`` on a thread; ``pause()`` (called by the job's hook) parks it until ``resume()``."""

    def __init__(self, job: Callable[[], Any]) -> None:
        self.job = job
        self.paused = threading.Event()
        self.proceed = threading.Event()
        self.error: BaseException | None = None
        self.result: Any = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.result = self.job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
        finally:
            connection.close()

    def pause(self) -> None:
        if not self.paused.is_set():
            self.paused.set()
            assert self.proceed.wait(PAUSE_LIMIT), "the test never resumed the job"

    def __enter__(self) -> PausedJob:
        self.thread.start()
        assert self.paused.wait(PAUSE_LIMIT), f"the job never reached its pause: {self.error!r}"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.proceed.set()
        self.thread.join(PAUSE_LIMIT)

    @property
    def running(self) -> bool:
        return self.thread.is_alive() and not self.proceed.is_set()


@pytest.fixture
def short_lock_waits() -> Iterator[None]:
    """This connection gives up on a lock after 3 s (an error, where the old code hung)."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '3s'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")


def requests_still_served(workspace: Workspace, secret: Secret, job: PausedJob) -> None:
    """A load and a value write of ``workspace`` complete while ``job`` is paused mid-batch."""
    fresh = Workspace.objects.get(pk=workspace.pk)
    assert services.load(fresh)  # reads, then appends its audit event (the chain slot)
    services.set_value(Secret.objects.get(pk=secret.pk), "written during the job")
    assert job.running, "the job finished before the requests: nothing was shown"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_import_does_not_freeze_the_workspace(workspace, monkeypatch, short_lock_waits):
    hot = services.create_secret(workspace, key="HOT", value="before")
    values = {f"IMPORTED_{i:04d}": get_random_string(20) for i in range(120)}
    progress: list[tuple[int, int]] = []
    job = PausedJob(
        lambda: bulk.import_values(
            workspace, values, envs=[], batch_size=50, progress=lambda d, t: progress.append((d, t))
        )
    )
    real_create = services.create_secret
    calls = {"n": 0}

    def create_then_pause(*args: Any, **kwargs: Any) -> Secret:
        secret = real_create(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 70:  # the middle of the second batch: its transaction is open
            job.pause()
        return secret

    monkeypatch.setattr(services, "create_secret", create_then_pause)
    with job:
        requests_still_served(workspace, hot, job)
    assert job.error is None, job.error
    assert len(job.result.created) == 120
    assert progress == [(50, 120), (100, 120), (120, 120)]
    assert Secret.objects.filter(workspace=workspace, key__startswith="IMPORTED_").count() == 120
    report = verify_chain(workspace)
    assert report.ok, report.problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_data_key_rotation_does_not_freeze_the_workspace(workspace, monkeypatch, short_lock_waits):
    hot = services.create_secret(workspace, key="HOT", value="before")
    for i in range(30):
        services.create_secret(workspace, key=f"K{i:02d}", value="x" * 60_000)
    job = PausedJob(lambda: bulk.rotate_data_key(workspace, batch_size=10))
    batches = {"n": 0}

    def pause_in_second_batch(batch: list[SecretVersion]) -> None:
        batches["n"] += 1
        if batches["n"] == 2:
            job.pause()  # inside the batch's transaction, its versions locked

    monkeypatch.setattr(bulk, "before_batch_write", pause_in_second_batch)
    with job:
        requests_still_served(workspace, hot, job)
    assert job.error is None, job.error
    workspace.refresh_from_db()
    assert workspace.previous_data_key_id == ""
    assert set(SecretVersion.objects.values_list("data_key_id", flat=True)) == {workspace.data_key_id}
    assert services.load(workspace)["HOT"] == "written during the job"
    assert verify_chain(workspace).ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_master_key_rotation_does_not_freeze_a_workspace(
    workspace, other_workspace, monkeypatch, short_lock_waits
):
    from django.test import override_settings

    from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

    hot = services.create_secret(workspace, key="HOT", value="before")
    services.create_secret(other_workspace, key="OTHER", value="x")
    real_rewrap = Workspace.rewrap

    def rewrap_then_pause(self: Workspace, master: Any) -> None:
        real_rewrap(self, master)
        job.pause()  # inside the first workspace's transaction, its row locked

    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        job = PausedJob(bulk.rotate_master_key)
        monkeypatch.setattr(Workspace, "rewrap", rewrap_then_pause)
        with job:
            requests_still_served(workspace, hot, job)
            requests_still_served(other_workspace, Secret.objects.get(key="OTHER"), job)
        assert job.error is None, job.error
        assert job.result == 2
        assert set(Workspace.objects.values_list("master_key_id", flat=True)) == {"test-2"}


# --- dry runs and progress (every database) ------------------------------------------


def read_only(statements: list[str]) -> bool:
    """Only reads, none locking (PostgreSQL runs ``.iterator()`` through a DECLAREd cursor)."""
    return all(
        sql.lstrip().startswith(("SELECT", "DECLARE")) and "FOR UPDATE" not in sql for sql in statements
    )


@pytest.mark.django_db
def test_dry_run_import_locks_nothing_and_writes_nothing(workspace, prd, make_secret):
    make_secret("SAME", "same", envs=["prd"])
    make_secret("CHANGED", "old", envs=["prd"])
    events, versions = AuditEvent.objects.count(), SecretVersion.objects.count()
    with CaptureQueriesContext(connection) as queries:
        plan = bulk.import_values(
            workspace, {"SAME": "same", "CHANGED": "new", "NEW": "n"}, envs=["prd"], dry_run=True
        )
    assert (plan.created, plan.updated, plan.unchanged) == (["NEW"], ["CHANGED"], ["SAME"])
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert read_only(statements), statements
    assert (AuditEvent.objects.count(), SecretVersion.objects.count()) == (events, versions)


@pytest.mark.django_db
def test_import_refuses_a_conflict_before_writing_anything(workspace, dev, prd, make_secret):
    make_secret("CLASH", "both", envs=["dev", "prd"])  # overlaps a new prd-only CLASH
    with pytest.raises(DuplicateKeyError):
        bulk.import_values(workspace, {"A_NEW": "a", "CLASH": "x"}, envs=["prd"], batch_size=1)
    assert not Secret.objects.filter(key="A_NEW").exists()


@pytest.mark.django_db
def test_import_batches_append_the_audit_chain_once_per_batch(workspace, monkeypatch):
    appends: list[int] = []
    real = audit._append

    def counting(ws: Workspace, events: list[AuditEvent]) -> None:
        appends.append(len(events))
        real(ws, events)

    monkeypatch.setattr(audit, "_append", counting)
    report = bulk.import_values(workspace, {f"K{i}": str(i) for i in range(7)}, envs=[], batch_size=3)
    assert len(report.created) == 7
    assert appends == [3, 3, 1]
    assert verify_chain(workspace).ok


@pytest.mark.django_db
def test_dry_run_rotations_write_nothing(workspace, make_secret):
    from django.test import override_settings

    from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

    make_secret("A", "a")
    before = list(Workspace.objects.values_list("data_key_id", "master_key_id", "wrapped_data_key"))
    with CaptureQueriesContext(connection) as queries:
        assert bulk.rotate_data_key(workspace, dry_run=True) == 1
        with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
            assert bulk.rotate_master_key(dry_run=True) == 1
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert read_only(statements), statements
    after = list(Workspace.objects.values_list("data_key_id", "master_key_id", "wrapped_data_key"))
    assert after == before
