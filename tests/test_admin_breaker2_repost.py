"""Admin rollback: a re-posted or stale confirmation page writes nothing (breaker2).

The confirmation page tells what the rollback will do ("Its current version is N …
writes version N+1"). Its POST is a check-and-set on that version: a second
submission (double click, reload, a second tab) or a value written since the page
was shown finds the secret moved on and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.models import Secret, SecretVersion


def url(view: str, *args: Any) -> str:
    return reverse(f"admin:secretvault_{view}", args=args)


def _confirmation_form(client: Client, secret: Secret, version: int) -> dict[str, str]:
    """The fields the confirmation page's form posts (hidden inputs included)."""
    page = client.get(url("secret_rollback", secret.pk, version)).content.decode()
    start = page.index("<form", page.index('id="content-main"'))
    form = page[start : page.index("</form>", start)]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken", None)
    return fields


def test_a_reposted_rollback_confirmation_writes_one_version(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", "first")
    services.update_secret(secret, value="second")
    form = _confirmation_form(admin_client, secret, 1)
    assert admin_client.post(url("secret_rollback", secret.pk, 1), form).status_code == 302
    again = admin_client.post(url("secret_rollback", secret.pk, 1), form, follow=True)
    assert again.status_code == 200
    assert "nothing was rolled back" in again.content.decode()
    assert SecretVersion.objects.filter(secret=secret).count() == 3


def test_a_stale_tab_does_not_roll_back_over_a_newer_value(
    admin_client: Client, make_secret: Callable[..., Secret]
) -> None:
    secret = make_secret("TOKEN", "first")
    services.update_secret(secret, value="second")
    form = _confirmation_form(admin_client, secret, 1)  # tab A shows "current is 2"
    services.update_secret(Secret.objects.get(pk=secret.pk), value="third")  # written meanwhile
    admin_client.post(url("secret_rollback", secret.pk, 1), form)
    fresh = Secret.objects.get(pk=secret.pk)
    assert fresh.current_version == 3
    assert services.reveal(fresh) == "third"
