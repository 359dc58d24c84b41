"""No value in any list, metadata, version, audit or error body; safe answers to key trouble."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings
from django.views.debug import ExceptionReporter

from secretvault import audit, services
from secretvault.models import SecretVersion
from tests.api.conftest import ws_url
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

pytestmark = pytest.mark.django_db

VALUES = ["leak-canary-global-1", "leak-canary-prd-2", "leak-canary-updated-3", "leak-canary-old-4"]


@pytest.fixture
def written(su, workspace, other_workspace, dev, prd, make_secret):
    """Values written through the API (and one in another workspace)."""
    secrets = ws_url("acme", "secrets")
    assert su.post(secrets, {"key": "CANARY", "value": VALUES[0]}).status_code == 201
    assert su.post(secrets, {"key": "CANARY", "value": VALUES[1], "envs": ["prd"]}).status_code == 201
    assert su.patch(ws_url("acme", "secrets", "CANARY"), {"value": VALUES[2]}).status_code == 200
    make_secret("THEIRS", VALUES[3], workspace=other_workspace)
    return VALUES


def assert_clean(response) -> None:
    text = response.content.decode()
    for value in VALUES:
        assert value not in text, (response.request["PATH_INFO"], response.status_code)


def test_no_value_outside_reveal_and_load(su, written):
    urls = [
        "/api/v1/workspaces/",
        ws_url("acme"),
        ws_url("acme", "stats"),
        ws_url("acme", "secrets"),
        ws_url("acme", "secrets") + "?search=leak",
        ws_url("acme", "secrets", "CANARY"),
        ws_url("acme", "secrets", "CANARY") + "?env=prd",
        ws_url("acme", "secrets", "CANARY", "versions"),
        ws_url("acme", "secrets", "CANARY", "versions") + "?env=prd",
        ws_url("acme", "audit"),
        ws_url("acme", "tokens"),
        ws_url("acme", "environments"),
        ws_url("globex", "secrets"),
        ws_url("globex", "audit"),
        "/api/v1/schema/",
    ]
    for url in urls:
        response = su.get(url)
        assert response.status_code == 200, url
        assert_clean(response)
    # And the audit trail, read straight from the database, holds no value either.
    from secretvault.models import AuditEvent

    for event in AuditEvent.objects.all():
        row = f"{event.action} {event.key} {event.detail} {event.username} {event.token_id}"
        for value in VALUES:
            assert value not in row


def test_write_answers_hold_no_value(su, written):
    url = ws_url("acme", "secrets", "CANARY")
    for response in (
        su.patch(url, {"value": "leak-canary-updated-3", "description": "x"}),
        su.put(url, {"value": "leak-canary-updated-3"}),
        su.post(url + "rollback/", {"version": 1}),
        su.post(url + "revoke/"),
        su.post(url + "restore/"),
        su.post(ws_url("acme", "secrets"), {"key": "NEW", "value": "leak-canary-old-4"}),
    ):
        assert response.status_code in (200, 201)
        assert_clean(response)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", ("secrets",), {"key": "CANARY", "value": "leak-canary-global-1"}, 409),
        ("post", ("secrets",), {"key": "1BAD", "value": "leak-canary-global-1"}, 400),
        ("post", ("secrets",), {"key": "K", "value": "leak-canary-global-1", "envs": ["x"]}, 400),
        ("post", ("secrets",), {"key": "K", "value": "leak-canary-global-1", "v": 1}, 400),
        ("post", ("secrets",), {"key": "K", "value": "leak-canary-global-1", "expires_at": 1}, 400),
        ("patch", ("secrets", "CANARY"), {"value": "leak-canary-prd-2", "expected_version": 9}, 409),
        ("patch", ("secrets", "CANARY"), {"value": "leak-canary-prd-2", "key": "X"}, 400),
        ("patch", ("secrets", "CANARY"), {"value": "leak-canary-prd-2", "version": 3}, 400),
        ("put", ("secrets", "CANARY"), {"value": "leak-canary-prd-2", "envs": ["prd"]}, 409),
        ("post", ("secrets", "CANARY", "rollback"), {"version": 99}, 400),
        ("get", ("secrets", "NOPE", "reveal"), None, 404),
    ],
)
def test_error_bodies_hold_no_value(su, written, method, path, body, status):
    response = getattr(su, method)(ws_url("acme", *path), body)
    assert response.status_code == status, response.content
    assert_clean(response)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", (), None),
        ("get", ("reveal",), None),
        ("get", ("versions",), None),
        ("patch", (), {"value": "x"}),
        ("put", (), {"value": "x"}),
        ("delete", (), None),
        ("post", ("rollback",), {"version": 1}),
        ("post", ("revoke",), None),
        ("post", ("restore",), None),
    ],
)
def test_another_workspace_secret_by_key_is_404(su, written, method, suffix, body):
    """THEIRS lives in globex: under acme's URL, every key, version and action route is 404."""
    response = getattr(su, method)(ws_url("acme", "secrets", "THEIRS", *suffix), body)
    assert response.status_code == 404
    assert_clean(response)


def test_decryption_failure_is_503_generic_and_logged_without_value(su, written, caplog):
    version = SecretVersion.objects.get(secret__key="CANARY", secret__envs__isnull=True, version=2)
    blob = bytearray(version.ciphertext)
    blob[-1] ^= 0xFF
    SecretVersion.objects.filter(pk=version.pk).update(ciphertext=bytes(blob))
    with caplog.at_level(logging.ERROR):
        for url in (
            ws_url("acme", "secrets", "CANARY", "reveal"),
            ws_url("acme", "load"),
        ):
            response = su.get(url)
            assert response.status_code == 503, url
            assert set(response.json()) == {"detail"}
            assert_clean(response)
        response = su.patch(ws_url("acme", "secrets", "CANARY"), {"value": "leak-canary-old-4"})
        assert response.status_code == 503
        assert_clean(response)
    assert "DecryptionError" in caplog.text
    for value in VALUES:
        assert value not in caplog.text


def test_decryption_failure_log_names_workspace_key_and_version(su, written, caplog):
    """Issue #10.11: the 503's log line names the row (workspace, key, version), not only the key id."""
    secret_version = SecretVersion.objects.get(secret__key="CANARY", secret__envs__isnull=True, version=2)
    blob = bytearray(secret_version.ciphertext)
    blob[20] ^= 0x01
    SecretVersion.objects.filter(pk=secret_version.pk).update(ciphertext=bytes(blob))
    for url in (ws_url("acme", "secrets", "CANARY", "reveal"), ws_url("acme", "load")):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="secretvault.api.views"):
            assert su.get(url).status_code == 503, url
        [record] = [r for r in caplog.records if r.name == "secretvault.api.views"]
        message = record.getMessage()
        assert "workspace 'acme', secret 'CANARY', version 2" in message, message
        for value in VALUES:
            assert value not in message


def test_missing_master_key_is_503(su, written):
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2], "API_BASIC_AUTH": True}):
        response = su.get(ws_url("acme", "load"))
        assert response.status_code == 503 and set(response.json()) == {"detail"}
        response = su.post(ws_url("acme", "secrets"), {"key": "NEW", "value": "x"})
        assert response.status_code == 503
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY], "API_BASIC_AUTH": True}):
        assert su.get(ws_url("acme", "load")).status_code == 200


def _explode(*args, **kwargs):
    raise RuntimeError("unexpected")


# Built at run time, so that the source lines an error report quotes do not hold it.
SENSITIVE = "-".join(["sensitive", "canary", "value"])


def test_write_paths_mark_values_sensitive(su, written, monkeypatch, rf):
    """An unexpected error inside a write: Django's error report cannot print the value."""
    monkeypatch.setattr(audit, "record", _explode)
    for method, url, body in (
        ("post", ws_url("acme", "secrets"), {"key": "NEW", "value": SENSITIVE}),
        ("patch", ws_url("acme", "secrets", "CANARY"), {"value": SENSITIVE}),
        ("put", ws_url("acme", "secrets", "CANARY"), {"value": SENSITIVE}),
    ):
        with pytest.raises(RuntimeError) as excinfo:
            getattr(su, method)(url, body)
        # The report a server would log: from Django's request handler down (the test's and
        # the test client's own frames hold the body they sent).
        tb = excinfo.tb
        while "django/core/handlers" not in tb.tb_frame.f_code.co_filename:
            tb = tb.tb_next
        report = ExceptionReporter(None, excinfo.type, excinfo.value, tb).get_traceback_html()
        assert "_explode" in report
        assert SENSITIVE not in report, method

    from secretvault.api.views import SecretViewSet

    view = SecretViewSet.as_view({"post": "create"})
    request = rf.post("/", data={"value": "form-posted-value"})
    view(request, ws="acme")
    assert request.sensitive_post_parameters == ("value",)


def test_services_error_message_never_echoes_value(su, written):
    # The services' own checks: value-type and size errors name the field, not the value.
    response = su.post(ws_url("acme", "secrets"), {"key": "K", "value": "leak-canary-old-4\x00"})
    assert response.status_code == 400
    assert_clean(response)
    assert services  # imported for the fixture's side effects
