"""Service tokens: digests only, shown once, authentication through the manager."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from secretvault import crypto, managers, services
from secretvault.models import ServiceToken

pytestmark = pytest.mark.django_db


def forge(token_id: str) -> str:
    """A well-formed token (valid checksum) for ``token_id`` with a random secret."""
    secret = crypto.generate_token("svt").raw.split("_")[2][:43]
    body = f"svt_{token_id}_{secret}"
    return body + crypto._checksum(body)


def test_create_returns_raw_once_and_stores_only_a_digest(workspace, make_token, dev):
    token, raw = make_token(envs=["dev"], scope=["api"], can_write=True)
    token_id, secret = crypto.parse_token(raw, "svt")
    assert token.token_id == token_id
    assert token.digest == crypto.token_digest(token_id, secret)
    assert token.env_slugs() == ["dev"] and token.scope == ["api"] and token.can_write
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM secretvault_servicetoken")
        row_text = " ".join(str(col) for col in cursor.fetchone())
    assert secret not in row_text and raw not in row_text
    assert not hasattr(ServiceToken.objects.get(pk=token.pk), "raw")


def test_manager_create_returns_token_and_raw(workspace):
    token, raw = ServiceToken.objects.create(workspace=workspace, name="direct")
    assert ServiceToken.objects.authenticate(raw) == token


def test_authenticate(workspace, make_token):
    token, raw = make_token()
    found = ServiceToken.objects.authenticate(raw)
    assert found == token and found.workspace == workspace
    _, secret = crypto.parse_token(raw, "svt")
    other = crypto.generate_token("svt")
    assert ServiceToken.objects.authenticate(other.raw) is None  # unknown id
    wrong_secret = forge(token.token_id)
    assert crypto.parse_token(wrong_secret, "svt") is not None
    assert ServiceToken.objects.authenticate(wrong_secret) is None  # right id, wrong secret
    assert ServiceToken.objects.authenticate("garbage") is None
    assert ServiceToken.objects.authenticate("") is None


def test_revoked_and_expired_tokens_fail(workspace, make_token):
    token, raw = make_token(expires_at=timezone.now() + dt.timedelta(seconds=30))
    assert ServiceToken.objects.authenticate(raw) == token
    later = timezone.now() + dt.timedelta(seconds=31)
    assert ServiceToken.objects.authenticate(raw, now=later) is None
    assert services.revoke_token(token) is True
    assert ServiceToken.objects.authenticate(raw) is None
    assert services.revoke_token(token) is False
    assert list(ServiceToken.objects.active()) == []


def test_same_work_for_unknown_id_and_wrong_secret(workspace, make_token, monkeypatch):
    token, raw = make_token()
    calls: list[str] = []
    compares: list[str] = []
    real_digest, real_match = crypto.token_digest, crypto.digests_match

    def counting_digest(token_id: str, secret: str) -> str:
        calls.append(token_id)
        return real_digest(token_id, secret)

    def counting_match(a: str, b: str) -> bool:
        compares.append(a)
        return real_match(a, b)

    monkeypatch.setattr(managers.crypto, "token_digest", counting_digest)
    monkeypatch.setattr(managers.crypto, "digests_match", counting_match)
    unknown = crypto.generate_token("svt").raw
    wrong = forge(token.token_id)
    assert crypto.parse_token(wrong, "svt") is not None
    services.revoke_token(make_token()[0])

    for attempt in (unknown, wrong, raw):
        calls.clear(), compares.clear()
        ServiceToken.objects.authenticate(attempt)
        assert len(calls) == 1 and len(compares) == 1, attempt


def test_unknown_id_and_wrong_secret_take_the_same_path(workspace, make_token, monkeypatch):
    """Issue #10.10: one query, one digest, one compare, and no model built on either failure.

    (Building the token and workspace models was the measurable difference: they are
    built only once the digest matches. Timings are in the report, not in tests.)
    """
    from secretvault.models import Workspace

    token, raw = make_token()
    built: list[str] = []
    compared: list[tuple[int, int]] = []
    real_token_from_db, real_ws_from_db = ServiceToken.from_db.__func__, Workspace.from_db.__func__
    real_match = crypto.digests_match

    def token_from_db(cls, *args):
        built.append(cls.__name__)
        return real_token_from_db(cls, *args)

    def ws_from_db(cls, *args):
        built.append(cls.__name__)
        return real_ws_from_db(cls, *args)

    def match(stored: str, candidate: str) -> bool:
        compared.append((len(stored), len(candidate)))
        return real_match(stored, candidate)

    monkeypatch.setattr(ServiceToken, "from_db", classmethod(token_from_db))
    monkeypatch.setattr(Workspace, "from_db", classmethod(ws_from_db))
    monkeypatch.setattr(managers.crypto, "digests_match", match)
    unknown = crypto.parse_token(crypto.generate_token("svt").raw, "svt")
    wrong = crypto.parse_token(forge(token.token_id), "svt")
    for attempt, known in ((unknown, False), (wrong, True)):
        built.clear(), compared.clear()
        check = ServiceToken.objects.verify(*attempt)
        assert check.token is None and check.known_id is known
        assert built == [] and compared == [(64, 64)]
    check = ServiceToken.objects.verify(*crypto.parse_token(raw, "svt"))
    assert check.token == token and check.token.workspace == workspace
    assert built == ["ServiceToken", "Workspace"]


def test_verify_is_one_query(workspace, make_token, django_assert_num_queries):
    token, raw = make_token()
    with django_assert_num_queries(1):
        found = ServiceToken.objects.authenticate(raw)
        assert found.workspace.slug == "acme" and found.scope == [] and found.last_used_at is None


def test_touch_writes_at_most_once_a_minute(make_token, django_assert_num_queries):
    token, _ = make_token()
    start = timezone.now()
    with django_assert_num_queries(1):
        token.touch(start)
    with django_assert_num_queries(0):
        token.touch(start + dt.timedelta(seconds=59))
    with django_assert_num_queries(1):
        token.touch(start + dt.timedelta(seconds=61))
    token.refresh_from_db()
    assert token.last_used_at == start + dt.timedelta(seconds=61)
    # Another process's stale copy does not write either.
    stale = ServiceToken.objects.get(pk=token.pk)
    stale.last_used_at = None
    stale.touch(start + dt.timedelta(seconds=70))
    token.refresh_from_db()
    assert token.last_used_at == start + dt.timedelta(seconds=61)


def test_token_validation(workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        services.create_token(workspace, name=" ", envs=["ghost"], scope=["no good"])
    assert set(excinfo.value.message_dict) == {"name", "envs", "scope"}
    assert not ServiceToken.objects.exists()


def test_token_prefix_setting(workspace, settings):
    from tests.settings import TEST_MASTER_KEY

    settings.SECRETVAULT = {"MASTER_KEYS": [TEST_MASTER_KEY], "TOKEN_PREFIX": "acme"}
    token, raw = services.create_token(workspace, name="t")
    assert raw.startswith("acme_")
    assert ServiceToken.objects.authenticate(raw) == token
