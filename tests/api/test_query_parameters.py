"""Issue #16.4: an empty query parameter that names something is a 400 on every route."""

from __future__ import annotations

import pytest
from django.urls import reverse

from secretvault.api import urls as api_urls
from secretvault.api.parameters import MAX_LIST_ITEMS, NAMING_PARAMETERS
from secretvault.models import AuditEvent, Environment, Secret, SecretVersion, ServiceToken, WorkspaceMember

pytestmark = pytest.mark.django_db

#: Every route of the API: (route name, URL kwargs, methods with a body or None).
ROUTES = {
    "workspace-list": ({}, {"get": None, "post": {"slug": "new-ws", "name": "N"}}),
    "workspace-detail": ({"ws": "acme"}, {"get": None}),
    "workspace-stats": ({"ws": "acme"}, {"get": None}),
    "workspace-load": ({"ws": "acme"}, {"get": None}),
    "environment-list": ({"ws": "acme"}, {"get": None, "post": {"slug": "stg", "name": "S"}}),
    "environment-detail": (
        {"ws": "acme", "slug": "dev"},
        {"get": None, "patch": {"name": "D"}, "delete": None},
    ),
    "secret-list": ({"ws": "acme"}, {"get": None, "post": {"key": "NEW", "value": "v"}}),
    "secret-detail": (
        {"ws": "acme", "key": "API_KEY"},
        {"get": None, "patch": {"value": "w"}, "put": {"value": "w"}, "delete": None},
    ),
    "secret-reveal": ({"ws": "acme", "key": "API_KEY"}, {"get": None}),
    "secret-versions": ({"ws": "acme", "key": "API_KEY"}, {"get": None}),
    "secret-rollback": ({"ws": "acme", "key": "API_KEY"}, {"post": {"version": 1}}),
    "secret-revoke": ({"ws": "acme", "key": "API_KEY"}, {"post": None}),
    "secret-restore": ({"ws": "acme", "key": "API_KEY"}, {"post": None}),
    "token-list": ({"ws": "acme"}, {"get": None, "post": {"name": "t"}}),
    "token-detail": ({"ws": "acme", "token_id": "TOKEN"}, {"get": None}),
    "token-revoke": ({"ws": "acme", "token_id": "TOKEN"}, {"post": None}),
    "audit-list": ({"ws": "acme"}, {"get": None}),
    "member-list": ({"ws": "acme"}, {"get": None, "post": {"user": "someone", "role": "viewer"}}),
    "member-detail": (
        {"ws": "acme", "member_id": "MEMBER"},
        {"get": None, "patch": {"role": "editor"}, "delete": None},
    ),
}


def _state() -> tuple:
    return (
        sorted(Secret.objects.values_list("key", "current_version", "revoked_at")),
        SecretVersion.objects.count(),
        sorted(Environment.objects.values_list("slug", "name")),
        sorted(ServiceToken.objects.values_list("token_id", "revoked_at")),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
        sorted(WorkspaceMember.objects.values_list("role", flat=True)),
    )


def test_the_walk_covers_every_route():
    names = {pattern.name for pattern in api_urls.router.urls}
    assert names == set(ROUTES)


@pytest.mark.parametrize("parameter", NAMING_PARAMETERS)
def test_empty_name_parameters_are_400_on_every_route(
    su, workspace, dev, make_secret, make_token, django_user_model, parameter
):
    from secretvault import members

    make_secret("API_KEY", "global-value")
    make_secret("API_KEY", "dev-value", envs=["dev"])
    token, _raw = make_token()
    someone = django_user_model.objects.create_user("someone", password="pw")
    member = members.add_member(workspace, user=someone, role="viewer")
    placeholders = {"TOKEN": token.token_id, "MEMBER": str(member.pk)}
    before = _state()
    for name, (kwargs, methods) in ROUTES.items():
        kwargs = {k: placeholders.get(v, v) for k, v in kwargs.items()}
        url = reverse(f"secretvault-api:{name}", kwargs=kwargs)
        for method, body in methods.items():
            for query in (f"{parameter}=", f"{parameter}=%20", f"{parameter}=&page=1"):
                response = getattr(su, method)(f"{url}?{query}", body)
                assert response.status_code == 400, (name, method, query, response.content)
                assert parameter in response.json(), (name, method, response.json())
    # Nothing was written, deleted, revoked or revealed.
    assert _state() == before


def test_a_named_parameter_still_works(su, workspace, dev, make_secret):
    make_secret("API_KEY", "global-value")
    make_secret("API_KEY", "dev-value", envs=["dev"])
    url = reverse("secretvault-api:secret-reveal", kwargs={"ws": "acme", "key": "API_KEY"})
    assert su.get(url + "?env=dev").json()["value"] == "dev-value"
    assert su.get(url).json()["value"] == "global-value"  # no env: the global one
    load = reverse("secretvault-api:workspace-load", kwargs={"ws": "acme"})
    assert su.get(load + "?env=dev&scope=web,api").json()["secrets"] == {"API_KEY": "dev-value"}


@pytest.mark.parametrize("query", ["scope=web,", "scope=,web", "scope=web&scope=", "scope=web,%20"])
def test_empty_items_of_a_scope_list_are_400(su, workspace, query):
    response = su.get(reverse("secretvault-api:workspace-load", kwargs={"ws": "acme"}) + "?" + query)
    assert response.status_code == 400 and "scope" in response.json()


def test_scope_lists_are_bounded(su, workspace):
    load = reverse("secretvault-api:workspace-load", kwargs={"ws": "acme"})
    tags = ",".join(f"t{i}" for i in range(MAX_LIST_ITEMS))
    assert su.get(f"{load}?scope={tags}").status_code == 200
    response = su.get(f"{load}?scope={tags},one-more")
    assert response.status_code == 400 and "scope" in response.json()
    repeated = "&".join(f"scope=t{i}" for i in range(MAX_LIST_ITEMS + 1))
    assert su.get(f"{load}?{repeated}").status_code == 400


def test_tokens_get_the_same_400(workspace, make_token, bearer, make_secret):
    make_secret("API_KEY", "global-value")
    _token, raw = make_token(can_write=True)
    client = bearer(raw)
    url = reverse("secretvault-api:secret-detail", kwargs={"ws": "acme", "key": "API_KEY"})
    assert client.delete(url + "?env=").status_code == 400
    assert (
        client.get(reverse("secretvault-api:workspace-load", kwargs={"ws": "acme"}) + "?env=").status_code
        == 400
    )
    assert Secret.objects.filter(key="API_KEY").exists()
