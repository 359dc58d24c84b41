"""Environment choices on the admin's secret and token forms: the chosen workspace's only (SPEC §8; #11.6)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from secretvault import services
from secretvault.models import Environment, Secret, ServiceToken, Workspace
from tests.admin_pages import post_token_form, token_form_ticket

pytestmark = pytest.mark.django_db

FORMS = ["secret", "servicetoken"]


@pytest.fixture
def admin_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def two_workspaces(workspace: Workspace, other_workspace: Workspace) -> dict[str, Environment]:
    """acme: dev, prd; globex: prd, qa."""
    return {
        "acme/dev": services.create_environment(workspace, slug="dev"),
        "acme/prd": services.create_environment(workspace, slug="prd"),
        "globex/prd": services.create_environment(other_workspace, slug="prd"),
        "globex/qa": services.create_environment(other_workspace, slug="qa"),
    }


def add_url(model: str) -> str:
    return reverse(f"admin:secretvault_{model}_add")


@pytest.mark.parametrize("model", FORMS)
def test_add_asks_for_the_workspace_first(
    admin_client: Client, two_workspaces: dict[str, Environment], model: str
) -> None:
    page = admin_client.get(add_url(model))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="sv-choose-workspace"' in body
    assert "acme" in body and "globex" in body
    assert 'name="environments"' not in body  # no environment offered before a workspace is chosen
    for env in two_workspaces.values():
        assert str(env.pk) not in body
    # A workspace id that does not exist, or is not one, asks again.
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert (
            'id="sv-choose-workspace"'
            in admin_client.get(add_url(model), {"workspace": bad}).content.decode()
        )


@pytest.mark.parametrize("model", FORMS)
def test_the_form_offers_the_chosen_workspaces_environments_only(
    admin_client: Client,
    workspace: Workspace,
    other_workspace: Workspace,
    two_workspaces: dict[str, Environment],
    model: str,
) -> None:
    body = admin_client.get(add_url(model), {"workspace": str(other_workspace.pk)}).content.decode()
    assert str(two_workspaces["globex/prd"].pk) in body and str(two_workspaces["globex/qa"].pk) in body
    assert str(two_workspaces["acme/prd"].pk) not in body and str(two_workspaces["acme/dev"].pk) not in body
    # The workspace select offers that workspace alone: what is saved matches what is shown.
    assert f'<option value="{other_workspace.pk}" selected>' in body
    assert f'<option value="{workspace.pk}"' not in body


def test_a_single_workspace_goes_straight_to_the_form(admin_client: Client, workspace: Workspace) -> None:
    for model in FORMS:
        response = admin_client.get(add_url(model))
        assert response.status_code == 302
        assert response["Location"] == f"{add_url(model)}?workspace={workspace.pk}"


def test_no_workspace_points_to_adding_one(admin_client: Client) -> None:
    body = admin_client.get(add_url("secret")).content.decode()
    assert reverse("admin:secretvault_workspace_add") in body


def test_choosing_needs_the_add_permission(client: Client, staff_user: Any, workspace: Workspace) -> None:
    client.force_login(staff_user)
    for model in FORMS:
        assert client.get(add_url(model)).status_code == 403


def test_another_workspaces_environment_is_refused_with_a_clear_error(
    admin_client: Client,
    workspace: Workspace,
    two_workspaces: dict[str, Environment],
) -> None:
    foreign = str(two_workspaces["globex/prd"].pk)
    secret = admin_client.post(
        add_url("secret"),
        {"workspace": str(workspace.pk), "key": "K", "value": "v", "scope": "", "environments": [foreign]},
    )
    assert secret.status_code == 200
    errors = secret.context["adminform"].form.errors["environments"]
    assert errors == [f"{foreign} is not an environment of workspace acme."]
    assert not Secret.objects.exists()

    token = post_token_form(
        admin_client, {"workspace": str(workspace.pk), "name": "t", "scope": "", "environments": [foreign]}
    )
    assert token.status_code == 200
    assert "is not an environment of workspace acme" in str(token.context["adminform"].form.errors)
    assert not ServiceToken.objects.exists()

    ok = post_token_form(
        admin_client,
        {
            "workspace": str(workspace.pk),
            "name": "t",
            "scope": "",
            "environments": [str(two_workspaces["acme/prd"].pk)],
        },
    )
    assert ok.status_code == 303
    assert ServiceToken.objects.get().env_slugs() == ["prd"]


def test_the_change_page_offers_the_secrets_workspace_only(
    admin_client: Client, other_workspace: Workspace, two_workspaces: dict[str, Environment]
) -> None:
    secret = services.create_secret(other_workspace, key="K", value="v", envs=["qa"])
    body = admin_client.get(reverse("admin:secretvault_secret_change", args=[secret.pk])).content.decode()
    assert str(two_workspaces["globex/qa"].pk) in body
    assert str(two_workspaces["acme/prd"].pk) not in body
    moved = admin_client.post(
        reverse("admin:secretvault_secret_change", args=[secret.pk]),
        {"expected_version": "1", "scope": "", "environments": [str(two_workspaces["acme/prd"].pk)]},
    )
    assert moved.status_code == 200
    assert "is not an environment of workspace globex" in str(moved.context["adminform"].form.errors)
    assert secret.env_slugs() == ["qa"]


def test_a_ticket_for_one_workspace_form_is_spent_once(admin_client: Client, two_workspaces: Any) -> None:
    workspace = Workspace.objects.get(slug="acme")
    ticket = token_form_ticket(admin_client, str(workspace.pk))
    data = {"_token_form_ticket": ticket, "workspace": str(workspace.pk), "name": "t", "scope": ""}
    assert admin_client.post(add_url("servicetoken"), data).status_code == 303
    assert admin_client.post(add_url("servicetoken"), data).status_code == 303
    assert ServiceToken.objects.count() == 1
