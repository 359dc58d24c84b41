"""Admin messages and history (issue #11.10): the version written, token names, times to the second."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.audit import Actor
from secretvault.models import Secret, ServiceToken, Workspace

pytestmark = pytest.mark.django_db

SECONDS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


def messages_of(response: Any) -> list[str]:
    """The messages the page after the redirect shows (shown once, so each call sees its own)."""
    return [str(message) for message in response.context["messages"]]


def change(client: Client, secret: Secret, **data: Any) -> Any:
    return client.post(
        reverse("admin:secretvault_secret_change", args=[secret.pk]),
        {"expected_version": str(secret.current_version), "scope": "", **data},
        follow=True,
    )


def test_saving_a_value_says_which_version_holds_it(admin_client: Client, workspace: Workspace) -> None:
    added = admin_client.post(
        reverse("admin:secretvault_secret_add"),
        {"workspace": str(workspace.pk), "key": "API_KEY", "value": "one", "scope": ""},
        follow=True,
    )
    assert "API_KEY: the value was saved as version 1." in messages_of(added)
    secret = Secret.objects.get(key="API_KEY")
    services.set_value(secret, "two")
    secret.refresh_from_db()

    changed = change(admin_client, secret, value="three")
    assert "API_KEY: the value was saved as version 3." in messages_of(changed)

    secret.refresh_from_db()
    same = change(admin_client, secret, value="three")
    assert "API_KEY: the value entered is the current value; no new version (still version 3)." in (
        messages_of(same)
    )

    metadata = change(admin_client, secret, description="only metadata")
    assert not [text for text in messages_of(metadata) if "version" in text]
    secret.refresh_from_db()
    assert (secret.current_version, secret.description) == (3, "only metadata")


def test_history_names_tokens_and_shows_seconds(
    admin_client: Client, workspace: Workspace, make_token: Callable[..., tuple[ServiceToken, str]]
) -> None:
    token, _ = make_token(name="deploy-bot", can_write=True)
    secret = services.create_secret(workspace, key="K", value="v1", actor=Actor(token=token))
    services.set_value(secret, "v2")
    secret.refresh_from_db()
    body = admin_client.get(reverse("admin:secretvault_secret_change", args=[secret.pk])).content.decode()
    history = body[body.index('id="version-history"') :]
    assert f"token deploy-bot (<code>{token.token_id}</code>)" in history
    assert len(SECONDS.findall(history)) == 2

    confirm = admin_client.get(
        reverse("admin:secretvault_secret_rollback", args=[secret.pk, 1])
    ).content.decode()
    assert f"token deploy-bot (<code>{token.token_id}</code>)" in confirm
    assert SECONDS.search(confirm)


def test_lists_show_times_to_the_second(
    admin_client: Client, workspace: Workspace, make_token: Callable[..., tuple[ServiceToken, str]]
) -> None:
    make_token(name="t")
    audit = admin_client.get(reverse("admin:secretvault_auditevent_changelist")).content.decode()
    assert SECONDS.search(audit)
    tokens = admin_client.get(reverse("admin:secretvault_servicetoken_changelist")).content.decode()
    assert SECONDS.search(tokens)
