"""Delivery that follows changes (SPEC §10): max_stale, refresh(), watch(); and set(envs=) (#11.7)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from secretvault import services
from secretvault.models import Secret
from secretvault_client import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    SecretVaultClient,
    ServerError,
    TransportError,
)
from tests.client.conftest import Reply, Stub, Vault, load_reply


def stub_client(stub: Stub, **options: Any) -> SecretVaultClient:
    options.setdefault("retries", 0)
    options.setdefault("cache_ttl", 0)
    return SecretVaultClient(url=stub.url, token="svt_a_b", workspace="acme", env="prd", **options)


# -- max_stale ----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [Reply(503, {"detail": "down"}), Reply(500, b"<html>oops</html>")])
def test_max_stale_serves_the_last_good_map_through_a_5xx(
    stub: Stub, failure: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    stub.script(load_reply({"A": "value-never-logged"}), failure)
    client = stub_client(stub, max_stale=300)
    first = client.load()
    with caplog.at_level(logging.WARNING, logger="secretvault.client"):
        again = client.load()
    assert again is first and client.last_load_source == "stale"
    assert "serving the last good map, 0 s old (max_stale 300 s)" in caplog.text
    assert "value-never-logged" not in caplog.text


def test_max_stale_serves_through_an_unreachable_server(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}))
    client = stub_client(stub, max_stale=300)
    client.load()
    stub.close()
    assert dict(client.load()) == {"A": "1"} and client.last_load_source == "stale"


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Reply(401, {"detail": "Token revoked."}), AuthenticationError),
        (Reply(403, {"detail": "No."}), PermissionDeniedError),
        (Reply(404, {"detail": "Not found."}), NotFoundError),
    ],
)
def test_max_stale_never_covers_401_403_404(stub: Stub, failure: Reply, error: type[Exception]) -> None:
    stub.script(load_reply({"A": "1"}), failure)
    client = stub_client(stub, max_stale=300)
    client.load()
    with pytest.raises(error):
        client.load()


def test_max_stale_ends(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    stub.script(load_reply({"A": "1"}), Reply(503, {"detail": "down"}))
    client = stub_client(stub, max_stale=60)
    client.load()
    client._confirmed_at -= 61  # the map was last confirmed 61 s ago
    with pytest.raises(ServerError):
        client.load()


def test_without_max_stale_an_outage_is_raised(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}), Reply(503, {"detail": "down"}))
    client = stub_client(stub)
    client.load()
    with pytest.raises(ServerError):
        client.load()


def test_a_304_confirms_the_map_again(stub: Stub) -> None:
    stub.script(
        load_reply({"A": "1"}, etag='"1"'), Reply(304, headers={"ETag": '"1"'}), Reply(503, {"detail": "x"})
    )
    client = stub_client(stub, max_stale=60)
    client.load()
    client._confirmed_at -= 50
    client.load()  # 304: confirmed now
    assert client.last_load_source == "revalidated"
    client._confirmed_at -= 20  # 20 s since the 304, 70 since the 200
    assert client.load()["A"] == "1" and client.last_load_source == "stale"


# -- refresh ------------------------------------------------------------------------------


def test_refresh_revalidates_within_the_ttl(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}, etag='"1"'), load_reply({"A": "2"}, etag='"2"'))
    client = stub_client(stub, cache_ttl=3600)
    assert client.load()["A"] == "1"
    assert client.load()["A"] == "1" and len(stub.seen) == 1  # cached
    assert client.refresh()["A"] == "2"
    assert stub.seen[1].headers.get("If-None-Match") == '"1"'


# -- watch --------------------------------------------------------------------------------


def test_watch_calls_back_once_per_change_and_stops(stub: Stub) -> None:
    stub.script(
        load_reply({"A": "1"}, etag='"1"'),
        Reply(304, headers={"ETag": '"1"'}),
        load_reply({"A": "2"}, etag='"2"'),
        Reply(304, headers={"ETag": '"2"'}),
    )
    client = stub_client(stub)
    client.load()
    changes: list[tuple[dict[str, str] | None, dict[str, str], str]] = []
    called = threading.Event()

    def callback(old: Any, new: Any) -> None:
        changes.append((dict(old), dict(new), threading.current_thread().name))
        called.set()

    watch = client.watch(callback, interval=0.02)
    assert called.wait(30)
    watch.stop()
    assert not watch.running
    assert changes == [({"A": "1"}, {"A": "2"}, "secretvault-watch")]
    seen = len(stub.seen)
    assert all(request.headers.get("If-None-Match") for request in stub.seen[1:])  # revalidations
    watch.stop()  # idempotent
    assert len(stub.seen) == seen  # no check after stop()


def test_watch_survives_errors_and_a_failing_callback(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    stub.script(
        load_reply({"A": "1"}, etag='"1"'),
        Reply(503, {"detail": "down"}),
        load_reply({"A": "2"}, etag='"2"'),
        load_reply({"A": "3"}, etag='"3"'),
        Reply(304, headers={"ETag": '"3"'}),
    )
    client = stub_client(stub)
    client.load()
    news: list[str] = []
    done = threading.Event()

    def callback(old: Any, new: Any) -> None:
        news.append(str(new["A"]))
        if len(news) == 1:
            raise RuntimeError("bug in the service's callback")
        done.set()

    with caplog.at_level(logging.WARNING, logger="secretvault.client"):
        with client.watch(callback, interval=0.02):
            assert done.wait(30)
    assert news == ["2", "3"]
    assert "could not check for changes: HTTP 503" in caplog.text
    assert "the callback raised" in caplog.text


def test_watch_thread_is_a_daemon_and_needs_a_positive_interval(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}))
    client = stub_client(stub)
    with pytest.raises(ValueError, match="interval"):
        client.watch(lambda old, new: None, interval=0)
    watch = client.watch(lambda old, new: None, interval=3600)
    assert watch._thread.daemon
    watch.stop()


def test_watch_without_a_prior_load_reports_the_first_map(stub: Stub) -> None:
    stub.script(load_reply({"A": "1"}))
    got: list[Any] = []
    done = threading.Event()
    client = stub_client(stub)
    with client.watch(lambda old, new: (got.append((old, dict(new))), done.set()), interval=0.02):
        assert done.wait(30)
    assert got == [(None, {"A": "1"})]


def test_a_watch_against_an_unreachable_server_keeps_going(caplog: pytest.LogCaptureFixture) -> None:
    client = SecretVaultClient(url="http://127.0.0.1:9/api/v1/", token="svt_a_b", workspace="acme", retries=0)
    with caplog.at_level(logging.WARNING, logger="secretvault.client"):
        watch = client.watch(lambda old, new: None, interval=0.01)
        for _ in range(3000):  # at most 30 s
            if "could not check" in caplog.text:
                break
            threading.Event().wait(0.01)
        assert watch.running
        watch.stop()
    with pytest.raises(TransportError):
        client.load()


# -- set(envs=) ------------------------------------------------------------------------------


def writer(vault: Vault, **token_options: Any) -> SecretVaultClient:
    _, raw = vault.make_token(can_write=True, **token_options)
    return vault.client(token=raw, env="prd", cache_ttl=0)


def test_a_prd_token_writes_a_prd_override_next_to_a_global_secret(vault: Vault) -> None:
    """#11.7: ``set(..., envs=["prd"])`` creates prd's own ``WORKERS``; the global one stays."""
    services.create_secret(vault.workspace, key="GLOBAL_ONLY", value="8")
    client = writer(vault, envs=["prd"])
    with pytest.raises(PermissionDeniedError) as caught:
        client.set("GLOBAL_ONLY", "12")  # addresses the global secret: out of this token's reach
    assert "envs=[...]" in str(caught.value) and "'envs'" not in str(caught.value)
    meta = client.set("GLOBAL_ONLY", "12", envs=["prd"])
    assert meta["envs"] == ["prd"] and meta["version"] == 1
    assert client.load()["GLOBAL_ONLY"] == "12"
    rows = {
        tuple(sorted(s.envs.values_list("slug", flat=True))): s
        for s in Secret.objects.filter(key="GLOBAL_ONLY")
    }
    assert set(rows) == {(), ("prd",)}
    assert rows[()].current_version == 1  # untouched
    # A second call updates the override (a new version), creates nothing.
    assert client.set("GLOBAL_ONLY", "13", envs=["prd"])["version"] == 2
    assert Secret.objects.filter(key="GLOBAL_ONLY").count() == 2
    assert client.load()["GLOBAL_ONLY"] == "13"


def test_envs_empty_addresses_the_global_secret(vault: Vault) -> None:
    client = writer(vault)
    assert client.set("SHARED", "a", envs=[])["envs"] == []
    assert client.set("SHARED", "b", envs=[])["version"] == 2
    assert client.set("SHARED", "p", envs=["prd"])["envs"] == ["prd"]
    assert client.set("SHARED", "c", envs=[])["version"] == 3
    assert Secret.objects.filter(key="SHARED").count() == 2


def test_set_env_and_envs_together_is_refused(vault: Vault) -> None:
    client = writer(vault)
    with pytest.raises(ValueError, match="not both"):
        client.set("X", "1", env="prd", envs=["prd"])
    with pytest.raises(TypeError, match="list of environment slugs"):
        client.set("X", "1", envs="prd")


def test_check_and_set_on_a_missing_secret_is_a_conflict_not_a_create(vault: Vault) -> None:
    from secretvault_client import ConflictError

    client = writer(vault)
    with pytest.raises(ConflictError, match="leave expected_version out"):
        client.set("NEVER_SET", "1", expected_version=1)
    assert not Secret.objects.filter(key="NEVER_SET").exists()


# -- a mistyped token, in the client's words (#11.8) -------------------------------------------


def test_a_mistyped_or_truncated_token_is_caught_before_any_request(vault: Vault) -> None:
    raw = vault.read_token
    position = raw.rindex("_") + 5
    mistyped = raw[:position] + ("A" if raw[position] != "A" else "B") + raw[position + 1 :]
    for broken in (mistyped, raw[:-1]):
        with pytest.raises(
            ConfigurationError, match="not a valid service token: mistyped or truncated"
        ) as caught:
            vault.client(token=broken)
        assert broken not in str(caught.value) and raw not in str(caught.value)
    assert dict(vault.client().load())  # the real one passes the check and works
