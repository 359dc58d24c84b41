"""No plaintext value or raw token at rest, in logs, or in Django's error reports."""

from __future__ import annotations

import logging
import secrets
import sys

import django
import pytest
from django.db import connection
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from secretvault import bulk, services
from secretvault.audit import Actor
from secretvault.models import Secret
from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

pytestmark = pytest.mark.django_db

VALUES = [
    "canary-one-8c1f0e",
    "canary-two-with spaces and ünïcode ✓",
    "canary-three-rolled-back",
    "canary-four-imported",
    "canary-five\nmultiline",
]


def full_workflow(workspace, prd, superuser) -> list[str]:
    """Writes, a rollback, an import, a reveal, a load, tokens, and both rotations.

    Returns every sensitive string that must never be stored: the values and
    the raw tokens with their secret parts.
    """
    actor = Actor(user=superuser, remote_addr="127.0.0.1")
    a = services.create_secret(workspace, key="A", value=VALUES[0], envs=["prd"], actor=actor)
    services.set_value(a, VALUES[1], actor=actor)
    b = services.create_secret(workspace, key="B", value=VALUES[2], actor=actor)
    services.set_value(b, "temporary")
    services.rollback(b, 1, actor=actor)
    services.create_secret(workspace, key="C", value=VALUES[3], action="import", actor=actor)
    services.create_secret(workspace, key="D", value=VALUES[4], scope=["api"], actor=actor)
    services.reveal(a, actor=actor)
    services.load(workspace, env="prd", actor=actor)
    token, raw = services.create_token(workspace, name="ci", envs=["prd"], actor=actor)
    services.revoke_token(token, actor=actor)
    _, raw2 = services.create_token(workspace, name="live", can_write=True, actor=actor)
    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        bulk.rotate_master_key(actor=actor)
        bulk.rotate_data_key(workspace, actor=actor)
        assert services.load(workspace, env="prd")["A"] == VALUES[1]
    sensitive = list(VALUES) + ["temporary"]
    for token_text in (raw, raw2):
        sensitive += [token_text, token_text.split("_")[2][:43]]
    return sensitive


def dump_every_table() -> str:
    """Every row of every table, through raw SQL, as one text blob."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for cell in row:
                    if isinstance(cell, (bytes, bytearray, memoryview)):
                        chunks.append(bytes(cell).decode("latin-1"))
                    else:
                        chunks.append(str(cell))
    return "\n".join(chunks)


def test_database_holds_no_plaintext_and_no_raw_token(workspace, prd, superuser):
    sensitive = full_workflow(workspace, prd, superuser)
    dump = dump_every_table()
    assert "canary" not in dump
    for text in sensitive:
        assert text not in dump
        assert text.encode("utf-8").decode("latin-1") not in dump


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


def test_no_value_in_logs_at_debug_level(workspace, prd, superuser):
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("django", "django.db.backends", "secretvault"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        sensitive = full_workflow(workspace, prd, superuser)
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.getLogger("django.db.backends").setLevel(logging.NOTSET)
    text = "\n".join(handler.lines)
    assert "INSERT INTO" in text  # the capture really saw the SQL log
    for value in sensitive:
        assert value not in text


def _report_html(exc_info) -> str:
    request = RequestFactory().post("/api/v1/workspaces/acme/secrets/", {"note": "posted"})
    reporter = ExceptionReporter(request, *exc_info)
    return reporter.get_traceback_html() + reporter.get_traceback_text()


class Opaque:
    """Holds the canary so the test's own frame (shown in the report) does not."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = "canary-" + secrets.token_hex(8)


def _crash_report(call) -> str:
    try:
        call()
    except RuntimeError:
        return _report_html(sys.exc_info())
    pytest.fail("expected the call to fail")


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG-on", "DEBUG-off"])
def test_technical_500_page_hides_values_in_write_paths(workspace, make_secret, monkeypatch, debug):
    created, updated, old = Opaque(), Opaque(), Opaque()
    secret = make_secret("K", old.text)
    from secretvault import audit, models

    with override_settings(DEBUG=debug):
        with monkeypatch.context() as patch:
            patch.setattr(Secret, "save", _explode("storage failed"))
            html = _crash_report(lambda: services.create_secret(workspace, key="NEW", value=created.text))
        assert "storage failed" in html and "create_secret" in html  # the real report, with frames
        assert created.text not in html

        with monkeypatch.context() as patch:
            patch.setattr(models.SecretVersion.objects, "create", _explode("insert failed"))
            html = _crash_report(lambda: services.update_secret(secret, value=updated.text))
        assert "insert failed" in html and "_write_version" in html
        assert updated.text not in html and old.text not in html

        with monkeypatch.context() as patch:
            patch.setattr(audit, "record", _explode("audit store down"))
            html = _crash_report(lambda: services.reveal(secret))
            assert "audit store down" in html and "reveal" in html
            assert old.text not in html
            html = _crash_report(lambda: services.rollback(secret, 1))
            assert old.text not in html


def _explode(message: str):
    def explode(*args, **kwargs):
        raise RuntimeError(message)

    return explode


def test_error_email_hides_values(workspace, monkeypatch):
    from django.core import mail
    from django.utils.log import AdminEmailHandler

    canary = Opaque()
    monkeypatch.setattr(Secret, "save", _explode("boom"))
    handler = AdminEmailHandler(include_html=True)
    try:
        services.create_secret(workspace, key="MAIL", value=canary.text)
    except RuntimeError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
        record.request = RequestFactory().get("/")
        # Django 6 takes plain addresses; 5.2 wants (name, address) pairs.
        admins = ["ops@example.com"] if django.VERSION >= (6, 0) else [("ops", "ops@example.com")]
        with override_settings(ADMINS=admins, DEBUG=False):
            handler.emit(record)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    bodies = [message.body] + [alt[0] for alt in getattr(message, "alternatives", [])]
    assert "boom" in message.body and "create_secret" in message.body
    for body in bodies:
        assert canary.text not in body
