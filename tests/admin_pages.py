"""Helpers for tests that drive the admin's token add form through the test client."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

TICKET = re.compile(r'name="_token_form_ticket" value="([^"]+)"')


def token_form_ticket(client: Client, workspace: str | None = None) -> str:
    """The one-time ticket of a fresh rendering of the token add form for ``workspace`` (a pk).

    Without ``workspace`` the add page must lead to the form by itself (one workspace only).
    """
    query = {"workspace": workspace} if workspace else {}
    page = client.get(reverse("admin:secretvault_servicetoken_add"), query, follow=True)
    match = TICKET.search(page.content.decode())
    assert match, "the token add form carries no ticket"
    return match.group(1)


def post_token_form(client: Client, data: dict[str, Any], **kwargs: Any) -> Any:
    """Submit the token add form once, with a fresh ticket."""
    return client.post(
        reverse("admin:secretvault_servicetoken_add"),
        {"_token_form_ticket": token_form_ticket(client, data.get("workspace")), **data},
        **kwargs,
    )
