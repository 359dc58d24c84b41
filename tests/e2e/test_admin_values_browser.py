"""Values through the admin in a real browser (SPEC §8, issue #11.1): multi-line and empty.

Chromium submits a textarea's line breaks as CRLF; the stored value must be
what was typed, byte for byte, and must never appear in a page but the reveal view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from secretvault import services
from secretvault.models import Secret, Workspace

if TYPE_CHECKING:
    from tests.e2e.conftest import AdminBrowser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3e2e\n"
    "\tindented, trailing blanks   \n"
    "-----END PRIVATE KEY-----\n"
)
SECRET_LINE = "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3e2e"

OpenSession = Callable[[str, set[str]], "AdminBrowser"]


def test_multi_line_and_empty_values_round_trip(
    admin_browser: OpenSession, workspace: Workspace, superuser: Any
) -> None:
    s = admin_browser("root", {SECRET_LINE})
    page = s.page
    s.login("root")

    s.goto("/admin/secretvault/secret/add/", "secret-add")
    assert page.locator("textarea#id_value").get_attribute("autocomplete") == "off"
    page.select_option("#id_workspace", label="acme")
    page.fill("#id_key", "TLS_KEY")
    page.fill("#id_value", PEM)
    s.screenshot("secret-add-typed")
    s.click("input[name=_save]", "secret-added")
    assert "was added successfully" in s.messages()
    secret = Secret.objects.get(key="TLS_KEY")
    assert services.reveal(secret).encode() == PEM.encode()

    # A blank value is refused on add unless the empty string is asked for.
    s.goto("/admin/secretvault/secret/add/", "secret-add-empty")
    page.select_option("#id_workspace", label="acme")
    page.fill("#id_key", "EMPTY_ONE")
    s.click("input[name=_save]", "secret-add-empty-refused")
    assert "Store the empty string" in page.inner_text(".errorlist")
    assert not Secret.objects.filter(key="EMPTY_ONE").exists()
    page.check("#id_store_empty")
    s.click("input[name=_save]", "secret-added-empty")
    assert "was added successfully" in s.messages()
    assert services.reveal(Secret.objects.get(key="EMPTY_ONE")) == ""

    # Change the PEM to the empty string: a new version; then reveal in the browser.
    s.goto(f"/admin/secretvault/secret/{secret.pk}/change/", "secret-change")
    assert page.locator("#id_value").input_value() == ""
    page.check("#id_store_empty")
    s.click("input[name=_continue]", "secret-changed-empty")
    secret.refresh_from_db()
    assert (secret.current_version, services.reveal(secret)) == (2, "")

    s.click("#version-history tr[data-version='1'] a.sv-rollback-link", "rollback-confirm")
    s.click("input[type=submit][value='Yes, roll back']", "rolled-back")
    s.click("a.sv-reveal-link", "reveal-ask")
    s.click("input[type=submit][value='Reveal the value']", "reveal-shown", may_show={SECRET_LINE})
    # The <pre> shows the value as stored: the DOM text equals the PEM exactly.
    shown = page.locator("#sv-secret-value").evaluate("element => element.textContent")
    assert shown == PEM
