"""No plaintext value or raw token in any log record of any logger, from any door (issue #10.2).

Every logger is opened at DEBUG -- ``django.template`` included, whose "Exception
while resolving variable" records carry the whole template context -- while the
admin, the API and the management command reveal, load, write values and create
tokens. Each record is searched: its formatted message, its arguments, its
exception text and the ``repr`` of every local of every frame in its traceback
(what an error tracker such as Sentry would send).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from secretvault import services
from secretvault.models import Secret, ServiceToken, Workspace
from tests.admin_pages import post_token_form

pytestmark = pytest.mark.django_db

VALUE = "canary-value-7f3a\nsecond line"
NEW_VALUE = "canary-new-value-91bc"
ADDED_VALUE = "canary-added-value-c0de"
API_VALUE = "canary-api-value-5e5e"
RAW_TOKEN = re.compile(r"svt_[0-9a-f]{16}_[A-Za-z0-9]+")


class Capture(logging.Handler):
    """Keeps every record, rendered every way a handler or an error tracker might render it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.args))
        self.texts.append(repr(vars(record)))
        if record.exc_info and record.exc_info[1] is not None:
            self.texts.append(logging.Formatter().formatException(record.exc_info))
            traceback = record.exc_info[2]
            while traceback is not None:
                self.texts.extend(repr(value) for value in traceback.tb_frame.f_locals.values())
                traceback = traceback.tb_next
        if record.stack_info:
            self.texts.append(record.stack_info)

    def text(self) -> str:
        return "\n".join(self.texts)


@pytest.fixture
def every_logger_at_debug() -> Iterator[Capture]:
    """Every logger (existing or created later) at DEBUG, each record captured."""
    capture = Capture()
    root = logging.getLogger()
    names = ["django", "django.template", "django.request", "django.db.backends", "secretvault"]
    loggers = [logging.getLogger(name) for name in names]
    loggers += [
        logger
        for logger in root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and logger not in loggers
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in [root, *loggers]]
    root.addHandler(capture)
    attached = [logger for logger in loggers if not logger.propagate]
    for logger in attached:
        logger.addHandler(capture)
    for logger, _level, _disabled in saved:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    connection.force_debug_cursor = True
    try:
        yield capture
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(capture)
        for logger in attached:
            logger.removeHandler(capture)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


def _assert_absent(capture: Capture, sensitive: list[str]) -> None:
    text = capture.text()
    for item in sensitive:
        assert item not in text, f"{item[:12]}… is in a log record"
        for line in item.splitlines():
            assert line not in text, f"a line of {item[:12]}… is in a log record"


def _drive_admin(client: Client, workspace: Workspace, secret: Secret) -> list[str]:
    """Add, change, reveal and roll back a secret; add a token. Returns the raw tokens shown."""
    add = client.post(
        reverse("admin:secretvault_secret_add"),
        {"workspace": str(workspace.pk), "key": "ADDED", "value": ADDED_VALUE, "scope": ""},
    )
    assert add.status_code == 302, add.content[:2000]
    refused = client.post(  # a form error: the page is rendered again around the typed value
        reverse("admin:secretvault_secret_add"),
        {"workspace": str(workspace.pk), "key": "not a key", "value": ADDED_VALUE},
    )
    assert refused.status_code == 200
    change = reverse("admin:secretvault_secret_change", args=[secret.pk])
    assert client.get(change).status_code == 200
    changed = client.post(
        change,
        {
            "value": NEW_VALUE,
            "expected_version": str(secret.current_version),
            "scope": "",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert changed.status_code == 302, changed.content[:2000]
    reveal = reverse("admin:secretvault_secret_reveal", args=[secret.pk])
    assert client.get(reveal).status_code == 200
    shown = client.post(reveal, {"post": "yes"})
    assert NEW_VALUE in shown.content.decode()
    rollback = reverse("admin:secretvault_secret_rollback", args=[secret.pk, 1])
    assert client.get(rollback).status_code == 200
    assert client.post(rollback, {"post": "yes"}).status_code == 302
    assert client.get(reverse("admin:secretvault_secret_history", args=[secret.pk])).status_code == 200

    created = post_token_form(
        client,
        {"workspace": str(workspace.pk), "name": "from-admin", "scope": "", "can_write": "on"},
        follow=True,
    )
    raws = RAW_TOKEN.findall(created.content.decode())
    assert len(raws) == 1
    return raws


def _drive_api(workspace: Workspace, superuser: Any) -> list[str]:
    """Reveal, load, write and mint a token through the API. Returns the raw tokens."""
    person = APIClient(HTTP_SEC_FETCH_SITE="same-origin")  # a session reads values same-origin only
    person.force_login(superuser)
    base = f"/api/v1/workspaces/{workspace.slug}"
    response = person.post(f"{base}/tokens/", {"name": "from-api", "can_write": True}, format="json")
    assert response.status_code == 201, response.content
    raw = response.json()["token"]
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert (
        service.post(f"{base}/secrets/", {"key": "FROM_API", "value": API_VALUE}, format="json").status_code
        == 201
    )
    assert service.get(f"{base}/secrets/FROM_API/reveal/").json()["value"] == API_VALUE
    assert service.get(f"{base}/load/").status_code == 200
    assert person.get(f"{base}/secrets/FROM_API/reveal/").status_code == 200
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {raw[:-2]}xx")  # a mistyped token, refused
    assert wrong.get(f"{base}/load/").status_code == 401
    return [raw]


def _drive_cli(workspace: Workspace) -> list[str]:
    """Reveal a value and create a token through ``manage.py secretvault``."""
    out = StringIO()
    call_command(
        "secretvault", "reveal", "SMTP_PASSWORD", "-w", workspace.slug, stdout=out, stderr=StringIO()
    )
    assert NEW_VALUE in out.getvalue() or VALUE in out.getvalue()
    out = StringIO()
    call_command("secretvault", "token", "create", "-w", workspace.slug, "--name", "from-cli", stdout=out)
    return RAW_TOKEN.findall(out.getvalue())


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG-off", "DEBUG-on"])
def test_no_value_or_raw_token_in_any_log_record(
    every_logger_at_debug: Capture, workspace: Workspace, superuser: Any, debug: bool
) -> None:
    secret = services.create_secret(workspace, key="SMTP_PASSWORD", value=VALUE)
    client = Client()
    client.force_login(superuser)
    with override_settings(DEBUG=debug):
        raws = _drive_admin(client, workspace, secret)
        raws += _drive_api(workspace, superuser)
        raws += _drive_cli(workspace)
    assert ServiceToken.objects.count() == 3
    sensitive = [VALUE, NEW_VALUE, ADDED_VALUE, API_VALUE, *raws]
    sensitive += [raw.split("_")[2] for raw in raws]  # the secret part alone
    _assert_absent(every_logger_at_debug, sensitive)
    # The capture really saw the doors: template lookups, requests and SQL.
    names = {record.name for record in every_logger_at_debug.records}
    assert {"django.template", "django.db.backends"} <= names, names


def _explode(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("storage failed")


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG-off", "DEBUG-on"])
def test_admin_error_reports_hide_values_and_tokens(
    every_logger_at_debug: Capture,
    workspace: Workspace,
    superuser: Any,
    monkeypatch: pytest.MonkeyPatch,
    debug: bool,
) -> None:
    """A crash in an admin write: the technical 500 page and the logged report (e-mail) hide it."""
    from django.views.debug import ExceptionReporter

    from secretvault import audit, models

    secret = services.create_secret(workspace, key="SMTP_PASSWORD", value=VALUE)
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    pages: list[str] = []
    with override_settings(DEBUG=debug):
        with monkeypatch.context() as patch:
            patch.setattr(Secret, "save", _explode)
            pages.append(
                client.post(
                    reverse("admin:secretvault_secret_add"),
                    {"workspace": str(workspace.pk), "key": "ADDED", "value": ADDED_VALUE},
                ).content.decode()
            )
        with monkeypatch.context() as patch:
            patch.setattr(models.SecretVersion.objects, "create", _explode)
            pages.append(
                client.post(
                    reverse("admin:secretvault_secret_change", args=[secret.pk]),
                    {"value": NEW_VALUE, "expected_version": "1", "scope": ""},
                ).content.decode()
            )
        with monkeypatch.context() as patch:
            patch.setattr(audit, "record", _explode)
            pages.append(
                client.post(
                    reverse("admin:secretvault_secret_reveal", args=[secret.pk]), {"post": "yes"}
                ).content.decode()
            )
            pages.append(
                post_token_form(
                    client, {"workspace": str(workspace.pk), "name": "crash", "scope": ""}
                ).content.decode()
            )
        reports = [
            ExceptionReporter(record.request, *record.exc_info).get_traceback_html()  # type: ignore[attr-defined]
            for record in every_logger_at_debug.records
            if record.name == "django.request" and record.exc_info
        ]
    assert len(reports) == 4
    assert all("storage failed" in report for report in reports)
    if debug:
        assert all("storage failed" in page for page in pages)  # the technical 500 page
    for text in pages + reports:
        for value in (VALUE, NEW_VALUE, ADDED_VALUE, *VALUE.splitlines()):
            assert value not in text
        assert not RAW_TOKEN.search(text)
    assert not ServiceToken.objects.exists()
