"""A developer restricted to ``dev`` in the admin: no other team's workspace, no ``prd`` value (SPEC §9).

Logged in through the login page of a real browser, the developer sees acme's global and
``dev`` secrets only, in every list, filter and choice; a ``prd`` or other team's page
answers exactly as a missing one does; only the ``dev`` value can be revealed.
"""

from __future__ import annotations

import uuid
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
GLOBAL_VALUE = "global-value-0b4d"


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
    services.create_secret(acme, key="SHARED_FLAG", value=GLOBAL_VALUE)
    other = services.create_secret(globex, key="GLOBEX_KEY", value=OTHER_VALUE)
    user = django_user_model.objects.create_user("devone", "devone@example.com", "pw", is_staff=True)
    WorkspaceMember.objects.create(workspace=acme, user=user, role="developer").envs.set([dev])

    s = admin_browser("devone", {DEV_VALUE, PRD_VALUE, OTHER_VALUE, GLOBAL_VALUE})
    s.login("devone")
    index = s.page.inner_text("#content")
    assert "Secrets" in index and "Audit" not in index and "Service tokens" not in index
    s.goto("/admin/secretvault/workspace/", "workspaces")
    text = s.page.inner_text("#content")
    assert "acme" in text and "globex" not in text
    s.goto("/admin/secretvault/environment/", "environments")
    text = s.page.inner_text("#content")
    assert "dev" in text and "prd" not in text and "globex" not in text
    s.goto("/admin/secretvault/secret/", "secrets")
    text = s.page.inner_text("#content")  # the rows and the filters beside them
    assert "DEV_DB_URL" in text and "SHARED_FLAG" in text
    assert "PRD_DB_URL" not in text and "GLOBEX_KEY" not in text and "globex" not in text
    assert "acme / prd" not in text
    # The other team's workspace typed into the filter's query string: no row, as for a missing one.
    for workspace_id, step in ((globex.pk, "globex-filter"), (uuid.uuid4(), "missing-filter")):
        s.goto(f"/admin/secretvault/secret/?workspace__id__exact={workspace_id}", step)
        text = s.page.inner_text("#content")
        assert "0 secrets" in text and "GLOBEX_KEY" not in text and "DEV_DB_URL" not in text, step

    # A prd or other team's secret answers like a secret that does not exist, the id aside.
    missing = str(uuid.uuid4())
    for view in ("change", "reveal"):
        s.goto(f"/admin/secretvault/secret/{missing}/{view}/", f"missing-{view}")
        expected = (s.page.url, s.messages().replace(missing, "<id>"))
        for secret, step in ((prd_secret, "prd"), (other, "other-team")):
            s.goto(f"/admin/secretvault/secret/{secret.pk}/{view}/", f"{step}-{view}")
            assert secret.key not in s.page.inner_text("#content"), (step, view)
            assert (s.page.url, s.messages().replace(str(secret.pk), "<id>")) == expected, (step, view)
    response = s.goto("/admin/secretvault/auditevent/", "audit")
    assert response.status == 403

    # Adding a secret: acme only (straight to its form), environment dev only.
    s.goto("/admin/secretvault/secret/add/", "add-secret")
    workspaces = s.page.locator("#id_workspace option").all_inner_texts()
    environments = s.page.locator("#id_environments label").all_inner_texts()
    assert [w.strip() for w in workspaces] == ["acme"], workspaces
    assert [e.strip() for e in environments] == ["dev"], environments

    s.goto(f"/admin/secretvault/secret/{dev_secret.pk}/reveal/", "dev-reveal-confirm")
    s.click("input[type=submit][value='Reveal the value']", "dev-revealed", may_show={DEV_VALUE})
    assert DEV_VALUE in s.page.inner_text("#content")
