"""A developer restricted to ``dev`` in the admin: no other team's workspace, no ``prd`` value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from secretvault import services
from secretvault.models import WorkspaceMember

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.conftest import AdminBrowser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEV_VALUE = "dev-value-7f3a"
PRD_VALUE = "prd-value-91c2"
OTHER_VALUE = "other-team-value-5d8e"


def test_dev_only_developer_sees_neither_the_other_team_nor_prd(
    admin_browser: Callable[[str, set[str]], AdminBrowser], django_user_model: Any
) -> None:
    acme = services.create_workspace(slug="acme")
    globex = services.create_workspace(slug="globex")
    dev = services.create_environment(acme, slug="dev")
    services.create_environment(acme, slug="prd")
    services.create_environment(globex, slug="dev")
    dev_secret = services.create_secret(acme, key="DEV_DB_URL", value=DEV_VALUE, envs=["dev"])
    prd_secret = services.create_secret(acme, key="PRD_DB_URL", value=PRD_VALUE, envs=["prd"])
    other = services.create_secret(globex, key="GLOBEX_KEY", value=OTHER_VALUE)
    user = django_user_model.objects.create_user("devone", "devone@example.com", "pw", is_staff=True)
    WorkspaceMember.objects.create(workspace=acme, user=user, role="developer").envs.set([dev])

    s = admin_browser("devone", {DEV_VALUE, PRD_VALUE, OTHER_VALUE})
    s.login("devone")
    s.goto("/admin/secretvault/workspace/", "workspaces")
    text = s.page.inner_text("#content")
    assert "acme" in text and "globex" not in text
    s.goto("/admin/secretvault/secret/", "secrets")
    text = s.page.inner_text("#content")
    assert "DEV_DB_URL" in text
    assert "PRD_DB_URL" not in text and "GLOBEX_KEY" not in text and "globex" not in text
    for secret, step in ((prd_secret, "prd"), (other, "other-team")):
        response = s.goto(f"/admin/secretvault/secret/{secret.pk}/change/", f"{step}-change")
        assert secret.key not in s.page.inner_text("#content"), step
        response = s.goto(f"/admin/secretvault/secret/{secret.pk}/reveal/", f"{step}-reveal")
        assert secret.key not in s.page.inner_text("#content"), (step, response.status)
    s.goto(f"/admin/secretvault/secret/{dev_secret.pk}/reveal/", "dev-reveal-confirm")
    s.click("input[type=submit][value='Reveal the value']", "dev-revealed", may_show={DEV_VALUE})
    assert DEV_VALUE in s.page.inner_text("#content")
