"""The admin's value field (SPEC §8, #11.1): multi-line, never echoed, byte for byte, empty on request."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.models import Secret, Workspace

pytestmark = pytest.mark.django_db

PEM_LINES = [
    "-----BEGIN PRIVATE KEY-----",
    "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+",
    "\tindented line with trailing blanks   ",
    "-----END PRIVATE KEY-----",
]
PEM = "\n".join(PEM_LINES) + "\n"
# What a browser submits for PEM typed into a textarea: every line break as CRLF.
PEM_AS_SUBMITTED = PEM.replace("\n", "\r\n")


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


def add(client: Client, workspace: Workspace, key: str, **data: Any) -> Any:
    return client.post(
        reverse("admin:secretvault_secret_add"),
        {"workspace": str(workspace.pk), "key": key, "scope": "", **data},
    )


def change(client: Client, secret: Secret, **data: Any) -> Any:
    return client.post(
        reverse("admin:secretvault_secret_change", args=[secret.pk]),
        {"expected_version": str(secret.current_version), "scope": "", **data},
    )


def value_input(body: str) -> str:
    match = re.search(r"<textarea name=\"value\"[^>]*>(.*?)</textarea>", body, re.S)
    assert match, "no value textarea"
    return match.group(0)


def test_value_input_is_a_textarea_that_never_shows_a_value(
    admin_client: Client, workspace: Workspace
) -> None:
    page = admin_client.get(reverse("admin:secretvault_secret_add"), follow=True).content.decode()
    textarea = value_input(page)
    for attribute in ('autocomplete="off"', 'spellcheck="false"', 'autocapitalize="off"', 'id="id_value"'):
        assert attribute in textarea
    assert textarea.endswith("></textarea>")
    assert 'name="store_empty"' in page

    # A form error shows the page again: the typed value is not in it, nor in the field.
    refused = add(admin_client, workspace, "not a key", value=PEM_AS_SUBMITTED).content.decode()
    assert "errorlist" in refused
    assert value_input(refused).endswith("></textarea>")
    for line in PEM_LINES:
        assert line.strip() not in refused
    assert not Secret.objects.exists()

    secret = services.create_secret(workspace, key="K", value=PEM)
    page = admin_client.get(reverse("admin:secretvault_secret_change", args=[secret.pk])).content.decode()
    assert value_input(page).endswith("></textarea>")
    assert PEM_LINES[1] not in page


def test_multi_line_value_is_stored_byte_for_byte(admin_client: Client, workspace: Workspace) -> None:
    """Blanks, tabs and line breaks survive; the browser's CRLF line breaks come back as LF."""
    assert add(admin_client, workspace, "TLS_KEY", value=PEM_AS_SUBMITTED).status_code == 302
    secret = Secret.objects.get(key="TLS_KEY")
    assert services.reveal(secret).encode() == PEM.encode()

    padded = "  leading and trailing blanks \t"
    assert change(admin_client, secret, value=padded).status_code == 302
    secret.refresh_from_db()
    assert (secret.current_version, services.reveal(secret)) == (2, padded)

    unicode = "ünïcode ✓ $HOME #not-a-comment 'quoted' \"double\" back\\slash"
    assert add(admin_client, workspace, "UNICODE", value=unicode).status_code == 302
    assert services.reveal(Secret.objects.get(key="UNICODE")) == unicode


def test_blank_value_on_add_is_an_error_unless_empty_is_asked_for(
    admin_client: Client, workspace: Workspace
) -> None:
    refused = add(admin_client, workspace, "EMPTY", value="")
    assert refused.status_code == 200
    assert "Store the empty string" in refused.content.decode()
    assert not Secret.objects.exists()

    assert add(admin_client, workspace, "EMPTY", value="", store_empty="on").status_code == 302
    secret = Secret.objects.get(key="EMPTY")
    assert (secret.current_version, services.reveal(secret)) == (1, "")


def test_empty_value_on_change_is_a_new_version_only_when_asked_for(
    admin_client: Client, workspace: Workspace
) -> None:
    secret = services.create_secret(workspace, key="K", value="first")
    assert change(admin_client, secret, value="").status_code == 302  # blank: keep
    secret.refresh_from_db()
    assert (secret.current_version, services.reveal(secret)) == (1, "first")

    both = change(admin_client, secret, value="typed", store_empty="on")
    assert both.status_code == 200
    assert "not both" in both.content.decode()
    assert "typed" not in value_input(both.content.decode())
    secret.refresh_from_db()
    assert secret.current_version == 1

    assert change(admin_client, secret, value="", store_empty="on").status_code == 302
    secret.refresh_from_db()
    assert (secret.current_version, services.reveal(secret)) == (2, "")


def test_a_refused_value_is_a_form_error_not_a_500(admin_client: Client, workspace: Workspace) -> None:
    refused = add(admin_client, workspace, "NUL", value="a\x00b")
    assert refused.status_code == 200
    assert "errorlist" in refused.content.decode()
    assert not Secret.objects.exists()


def test_reveal_page_shows_a_leading_line_break(admin_client: Client, workspace: Workspace) -> None:
    """HTML drops one line break right after ``<pre>``: the page adds one so the value's own survives."""
    secret = services.create_secret(workspace, key="K", value="\nstarts with a line break")
    body = admin_client.post(
        reverse("admin:secretvault_secret_reveal", args=[secret.pk]), {"post": "yes"}
    ).content.decode()
    assert 'class="sv-secret-value">\n\nstarts with a line break</pre>' in body


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t"])
def test_admin_refuses_names_with_blanks_instead_of_trimming_them(
    admin_client: Client, workspace: Workspace, suffix: str
) -> None:
    """SPEC §8: a key or slug with a trailing line break or blank is refused, never stored trimmed."""
    response = add(admin_client, workspace, "NL_ADMIN" + suffix, value="v")
    assert response.status_code == 200  # the form again, with the error
    assert "key" in response.context["adminform"].form.errors
    assert not Secret.objects.filter(key__startswith="NL_ADMIN").exists()

    response = admin_client.post(
        reverse("admin:secretvault_workspace_add"), {"slug": "nl-ws" + suffix, "name": "x"}
    )
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert not Workspace.objects.filter(slug__startswith="nl-ws").exists()
