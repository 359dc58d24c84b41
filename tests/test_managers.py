"""QuerySet verbs and resolve(): every rule filters in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from secretvault import services
from secretvault.models import Secret

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)


def keys(qs) -> list[str]:
    return sorted(qs.values_list("key", flat=True))


@pytest.fixture
def states(make_secret):
    """One secret in each state, relative to NOW."""
    make_secret("PLAIN", "v")
    make_secret("FAR", "v", expires_at=NOW + dt.timedelta(days=30))
    make_secret("SOON", "v", expires_at=NOW + dt.timedelta(hours=2))
    make_secret("AT_NOW", "v", expires_at=NOW)
    make_secret("PAST", "v", expires_at=NOW - dt.timedelta(seconds=1))
    gone = make_secret("GONE", "v")
    services.revoke_secret(gone)


def test_state_verbs(states):
    assert keys(Secret.objects.active(NOW)) == ["FAR", "PLAIN", "SOON"]
    assert keys(Secret.objects.expired(NOW)) == ["AT_NOW", "PAST"]
    assert keys(Secret.objects.revoked()) == ["GONE"]
    assert keys(Secret.objects.expiring_within(3 * 3600, NOW)) == ["SOON"]
    assert keys(Secret.objects.expiring_within(31 * 86400, NOW)) == ["FAR", "SOON"]


def test_expiry_boundary_second(make_secret):
    moment = timezone.now().replace(microsecond=0) + dt.timedelta(hours=1)
    make_secret("EDGE", "v", expires_at=moment)
    one_before = moment - dt.timedelta(seconds=1)
    assert keys(Secret.objects.active(one_before)) == ["EDGE"]
    assert keys(Secret.objects.active(moment)) == []  # expiry is exclusive at the second
    assert keys(Secret.objects.expired(moment)) == ["EDGE"]
    assert keys(Secret.objects.expired(one_before)) == []
    secret = Secret.objects.get(key="EDGE")
    assert secret.is_expired(moment) and not secret.is_expired(one_before)


def test_expiry_round_trips_unix_seconds(make_secret):
    unix = int(timezone.now().timestamp()) + 3600
    moment = dt.datetime.fromtimestamp(unix, tz=dt.timezone.utc) + dt.timedelta(microseconds=999_999)
    secret = make_secret("UNIX", "v", expires_at=moment)
    secret.refresh_from_db()
    assert secret.expires_at_unix == unix
    assert secret.expires_at == dt.datetime.fromtimestamp(unix, tz=dt.timezone.utc)


def test_for_env_and_global_only(make_secret, dev, prd):
    make_secret("G", "v")
    make_secret("D", "v", envs=["dev"])
    make_secret("DP", "v", envs=["dev", "prd"])
    make_secret("P", "v", envs=["prd"])
    assert keys(Secret.objects.for_env("dev")) == ["D", "DP", "G"]
    assert keys(Secret.objects.for_env("prd")) == ["DP", "G", "P"]
    assert keys(Secret.objects.for_env("nope")) == ["G"]
    assert keys(Secret.objects.for_env(None)) == ["G"]
    assert keys(Secret.objects.global_only()) == ["G"]
    # No duplicate rows from the many-to-many join.
    assert Secret.objects.for_env("dev").count() == 3


def test_for_scope_is_exact_and_case_sensitive(make_secret):
    make_secret("ALL", "v")
    make_secret("API", "v", scope=["api"])
    make_secret("API_V2", "v", scope=["api.v2"])
    make_secret("BOTH", "v", scope=["api", "worker"])
    make_secret("UPPER", "v", scope=["Api"])
    assert keys(Secret.objects.for_scope("api")) == ["ALL", "API", "BOTH"]
    assert keys(Secret.objects.for_scope("Api")) == ["ALL", "UPPER"]
    assert keys(Secret.objects.for_scope("ap")) == ["ALL"]
    assert keys(Secret.objects.for_scope("worker")) == ["ALL", "BOTH"]
    assert keys(Secret.objects.for_scope(["api.v2", "worker"])) == ["ALL", "API_V2", "BOTH"]


def test_verbs_filter_in_sql(make_secret, dev):
    make_secret("A", "v", envs=["dev"], scope=["api"])
    with CaptureQueriesContext(connection) as ctx:
        list(Secret.objects.active().for_env("dev").for_scope("api").expiring_within(60))
    assert len(ctx.captured_queries) == 1


def test_resolve_overrides_global_with_environment_specific(workspace, make_secret, dev, prd):
    make_secret("DB_URL", "global-db")
    make_secret("DB_URL", "prd-db", envs=["prd"])
    make_secret("ONLY_DEV", "dev-only", envs=["dev"])
    make_secret("SHARED", "shared")
    prd_map = services.load(workspace, env="prd")
    assert prd_map == {"DB_URL": "prd-db", "SHARED": "shared"}
    assert services.load(workspace, env="dev") == {
        "DB_URL": "global-db",
        "ONLY_DEV": "dev-only",
        "SHARED": "shared",
    }
    assert services.load(workspace) == {"DB_URL": "global-db", "SHARED": "shared"}


def test_resolve_skips_inactive_and_out_of_scope(workspace, make_secret, prd):
    make_secret("ACTIVE", "a")
    services.revoke_secret(make_secret("REVOKED", "r"))
    make_secret("WORKER", "w", scope=["worker"])
    make_secret("API", "x", scope=["api"])
    make_secret("EXPIRED", "old", envs=["prd"], expires_at=timezone.now() + dt.timedelta(seconds=5))
    later = timezone.now() + dt.timedelta(seconds=10)
    assert set(Secret.objects.resolve(workspace, env="prd", now=later)) == {"ACTIVE", "WORKER", "API"}
    assert set(Secret.objects.resolve(workspace, env="prd", scope="api", now=later)) == {"ACTIVE", "API"}
    # A revoked environment-specific secret does not hide the global one.
    g = make_secret("KEY", "global")
    s = make_secret("KEY", "specific", envs=["prd"])
    assert services.load(workspace, env="prd")["KEY"] == "specific"
    services.revoke_secret(s)
    assert services.load(workspace, env="prd")["KEY"] == "global"
    assert g.pk


def test_resolve_is_one_query_whatever_the_size(workspace, make_secret, prd):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            resolved = Secret.objects.resolve(workspace, env="prd")
            assert all(s.current_ciphertext for s in resolved.values())
        return len(ctx.captured_queries)

    for i in range(3):
        make_secret(f"K{i}", "v")
    small = count()
    for i in range(3, 40):
        make_secret(f"K{i}", "v", envs=["prd"] if i % 2 else [])
    assert count() == small == 1


def test_resolve_sees_only_its_workspace(workspace, other_workspace, make_secret):
    make_secret("MINE", "m")
    make_secret("THEIRS", "t", workspace=other_workspace)
    assert set(Secret.objects.resolve(workspace)) == {"MINE"}
    assert set(Secret.objects.resolve(other_workspace)) == {"THEIRS"}


@pytest.mark.parametrize(
    ("env", "scope"),
    [(None, None), ("prd", None), (None, ["api"]), ("prd", ["api", "worker"]), ("dev", "api")],
)
def test_compiled_resolve_is_used_and_agrees_with_the_queryset(workspace, make_secret, dev, prd, env, scope):
    from secretvault import managers

    make_secret("A", "global", scope=["api"])
    make_secret("A", "prd", envs=["prd"])
    make_secret("B", "worker", scope=["worker"])
    make_secret("C", "dev", envs=["dev"], scope=["api"])
    services.revoke_secret(make_secret("D", "gone"))
    tags = None if scope is None else managers._tags(scope)
    compiled = managers._compiled_resolve(
        Secret.objects.all(), env is not None, None if tags is None else len(tags)
    )
    assert compiled is not None  # the fast path is taken on this database
    fast = Secret.objects.resolve(workspace, env=env, scope=scope)
    now = timezone.now()
    slow = list(Secret.objects.all()._resolve_rows(workspace.pk, now, env, tags))
    expected: dict[str, tuple] = {}
    for key, raw_id, version, is_global, ciphertext in slow:
        expected[key] = (managers._uuid_bytes(raw_id), version, bool(is_global), bytes(ciphertext))
    assert {
        k: (v.id_bytes, v.current_version, v.is_global, v.current_ciphertext) for k, v in fast.items()
    } == expected
    assert fast  # every shape above sees something
