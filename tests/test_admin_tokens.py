"""Creating service tokens in the admin (SPEC §4, §8; issue #11.5).

POST → redirect → GET: the raw token is shown on the first GET only; neither a
reload nor a re-post of the form creates a second token.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.admin import once
from secretvault.models import AuditEvent, Environment, ServiceToken, Workspace
from tests.admin_pages import post_token_form, token_form_ticket

pytestmark = pytest.mark.django_db

RAW_TOKEN = re.compile(r"svt_[0-9a-f]{16}_[A-Za-z0-9]+")


def url(view: str, *args: Any) -> str:
    return reverse(f"admin:secretvault_{view}", args=args)


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


def form_data(workspace: Workspace, **changes: Any) -> dict[str, Any]:
    return {"workspace": str(workspace.pk), "name": "billing", "scope": "", **changes}


def every_session_row() -> str:
    """Every stored session, raw and decoded."""
    rows = []
    for session in Session.objects.all():
        rows += [session.session_data, str(session.get_decoded())]
    return "\n".join(rows)


def test_token_is_shown_once_after_a_redirect(
    admin_client: Client, workspace: Workspace, prd: Environment, superuser: Any
) -> None:
    add_page = admin_client.get(url("servicetoken_add"))
    assert "no-store" in add_page["Cache-Control"]
    created = post_token_form(
        admin_client,
        form_data(workspace, environments=[str(prd.pk)], scope="billing", can_write="on"),
    )
    token = ServiceToken.objects.get()
    assert created.status_code == 303
    assert created["Location"] == url("servicetoken_created", token.pk)
    assert not RAW_TOKEN.search(created.content.decode())

    # Between the POST and the GET the raw token waits in the session, sealed.
    assert "svt_" not in every_session_row()
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_data FROM django_session")
        assert all("svt_" not in row[0] for row in cursor.fetchall())

    shown = admin_client.get(created["Location"])
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    (raw,) = RAW_TOKEN.findall(shown.content.decode())
    assert "cannot be shown again" in shown.content.decode()
    assert ServiceToken.objects.authenticate(raw) == token
    assert (token.name, token.env_slugs(), token.scope, token.can_write, token.created_by) == (
        "billing",
        ["prd"],
        ["billing"],
        True,
        superuser,
    )
    assert raw not in every_session_row()

    reload = admin_client.get(created["Location"])
    assert reload.status_code == 200
    assert "no-store" in reload["Cache-Control"]
    assert "already shown once" in reload.content.decode()
    assert not RAW_TOKEN.search(reload.content.decode())
    assert ServiceToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="token.create").count() == 1

    for page in (
        admin_client.get(url("servicetoken_changelist")),
        admin_client.get(url("servicetoken_change", token.pk)),
        admin_client.get(url("servicetoken_history", token.pk)),
        admin_client.get(url("auditevent_changelist")),
        admin_client.get(reverse("admin:index")),
    ):
        assert page.status_code == 200
        assert raw not in page.content.decode()
        assert raw.rsplit("_", 1)[1] not in page.content.decode()


def test_reposting_the_form_creates_no_second_token(admin_client: Client, workspace: Workspace) -> None:
    data = {"_token_form_ticket": token_form_ticket(admin_client), **form_data(workspace)}
    assert admin_client.post(url("servicetoken_add"), data).status_code == 303
    again = admin_client.post(url("servicetoken_add"), data, follow=True)
    assert "no second token was created" in again.content.decode()
    assert not RAW_TOKEN.search(again.content.decode())
    assert ServiceToken.objects.count() == 1

    for forged in ({}, {"_token_form_ticket": "made-up"}):  # no ticket, or one never issued
        response = admin_client.post(url("servicetoken_add"), {**form_data(workspace), **forged})
        assert response.status_code == 303
    assert ServiceToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="token.create").count() == 1

    # A new rendering of the form is a new ticket: a deliberate second token is fine.
    assert post_token_form(admin_client, form_data(workspace, name="second")).status_code == 303
    assert ServiceToken.objects.count() == 2


def test_a_ticket_is_this_sessions_only(
    admin_client: Client, workspace: Workspace, django_user_model: Any
) -> None:
    ticket = token_form_ticket(admin_client)
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("other", "o@example.com", "pw"))
    stolen = other.post(url("servicetoken_add"), {"_token_form_ticket": ticket, **form_data(workspace)})
    assert stolen.status_code == 303
    assert not ServiceToken.objects.exists()


def test_the_shown_token_is_this_users_only(
    admin_client: Client, workspace: Workspace, django_user_model: Any
) -> None:
    created = post_token_form(admin_client, form_data(workspace))
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("other", "o@example.com", "pw"))
    assert not RAW_TOKEN.search(other.get(created["Location"]).content.decode())
    assert RAW_TOKEN.search(admin_client.get(created["Location"]).content.decode())


def test_form_errors_issue_a_new_ticket_and_create_nothing(
    admin_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    foreign = services.create_environment(other_workspace, slug="dev")
    for data, field in (
        ({"name": "x", "scope": "bad tag!"}, "scope"),
        ({"name": "x", "environments": [str(foreign.pk)]}, "environments"),
        ({"name": "x", "expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "expires_at"),
        ({"name": ""}, "name"),
    ):
        response = post_token_form(admin_client, {"workspace": str(workspace.pk), **data})
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
        assert "no-store" in response["Cache-Control"]
        fixed = re.search(r'name="_token_form_ticket" value="([^"]+)"', response.content.decode())
        assert fixed, "the page shown again carries a fresh ticket"
    assert not ServiceToken.objects.exists()
    # The fresh ticket on the page shown again submits the corrected form.
    corrected = admin_client.post(
        url("servicetoken_add"), {"_token_form_ticket": fixed.group(1), **form_data(workspace)}
    )
    assert corrected.status_code == 303
    assert ServiceToken.objects.count() == 1


def test_created_page_for_an_unknown_token_redirects(admin_client: Client) -> None:
    response = admin_client.get(url("servicetoken_created", "00000000-0000-0000-0000-000000000000"))
    assert response.status_code == 302
    assert admin_client.get(url("servicetoken_created", "not-a-uuid")).status_code == 302


def test_tickets_lapse_beyond_the_limit(admin_client: Client, workspace: Workspace) -> None:
    first = token_form_ticket(admin_client)
    for _ in range(once.MAX_TICKETS):
        token_form_ticket(admin_client)
    response = admin_client.post(
        url("servicetoken_add"), {"_token_form_ticket": first, **form_data(workspace)}
    )
    assert response.status_code == 303
    assert not ServiceToken.objects.exists()
