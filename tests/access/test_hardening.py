"""Issue #10 findings 1, 3, 7, 8, 9 and "nothing confirms an invisible secret" (SPEC §9).

Each test here fails on the code before ``secretvault.access``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from secretvault import services
from secretvault.audit import Actor
from secretvault.errors import AccessDeniedError
from secretvault.models import Secret, ServiceToken
from tests.api.conftest import _client, ws_url

pytestmark = pytest.mark.django_db

TOKENS = ws_url("acme", "tokens")


def url(key: str, *action: str) -> str:
    return ws_url("acme", "secrets", key, *action)


# -- finding 1: nobody mints a token reaching more than they do ----------------------------


@pytest.mark.parametrize(
    ("codenames", "body", "status"),
    [
        (["add_servicetoken"], {"name": "x"}, 403),  # the finding: cannot reveal, so no token
        (["add_servicetoken"], {"name": "x", "can_write": True}, 403),
        (["add_servicetoken", "view_secret", "reveal_secret"], {"name": "x"}, 201),
        (["add_servicetoken", "view_secret", "reveal_secret"], {"name": "x", "can_write": True}, 403),
        (
            ["add_servicetoken", "view_secret", "reveal_secret", "add_secret", "change_secret"],
            {"name": "x", "can_write": True},
            403,  # no delete_secret / rollback_secret
        ),
        (
            ["add_servicetoken", "view_secret", "reveal_secret", "add_secret", "change_secret"]
            + ["delete_secret", "rollback_secret"],
            {"name": "x", "can_write": True},
            201,
        ),
    ],
)
def test_token_creation_is_bounded_by_the_creators_permissions(workspace, person, codenames, body, status):
    _user, client = person(*codenames)
    response = client.post(TOKENS, body)
    assert response.status_code == status, response.content
    assert ServiceToken.objects.count() == (status == 201)
    assert "svt_" not in response.content.decode() or status == 201


def test_token_envs_stay_within_the_creators_environments(workspace, dev, prd, person, member):
    """Global add_servicetoken, but values only in dev (a developer membership): tokens for dev only."""
    from django.contrib.auth.models import Permission

    user, client = member("developer", ["dev"])
    user.user_permissions.add(Permission.objects.get(codename="add_servicetoken"))
    assert client.post(TOKENS, {"name": "all"}).status_code == 403
    assert client.post(TOKENS, {"name": "prd", "envs": ["prd"]}).status_code == 403
    assert client.post(TOKENS, {"name": "both", "envs": ["dev", "prd"]}).status_code == 403
    created = client.post(TOKENS, {"name": "dev", "envs": ["dev"], "can_write": True})
    assert created.status_code == 201 and created.json()["envs"] == ["dev"]


def test_admin_token_form_asks_the_same_rule(workspace, dev, person):
    """The admin's form writes through services.create_token, which refuses the same way."""
    from django.contrib.auth.models import Permission

    user, _client = person("add_servicetoken")
    with pytest.raises(AccessDeniedError):
        services.create_token(workspace, name="x", actor=Actor(user=user))
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_secret", "reveal_secret"]))
    fresh = type(user).objects.get(pk=user.pk)
    token, _raw = services.create_token(workspace, name="x", actor=Actor(user=fresh))
    assert not token.can_write


# -- finding 3: a write does not change what consumers outside the writer's reach get ------


def test_scoped_token_cannot_shadow_a_global_secret(workspace, dev, prd, make_secret, token_client, su):
    make_secret("GLOBAL_KEY", "the-real-host")
    _token, web = token_client(scope=["web"], can_write=True)
    body = {"key": "GLOBAL_KEY", "value": "attacker-host", "envs": ["prd"], "scope": ["web"]}
    response = web.post(ws_url("acme", "secrets"), body)
    assert response.status_code == 403
    assert su.get(ws_url("acme", "load") + "?env=prd").json()["secrets"] == {"GLOBAL_KEY": "the-real-host"}
    assert Secret.objects.count() == 1


def test_scoped_token_cannot_widen_an_override(workspace, dev, prd, make_secret, token_client, su):
    make_secret("K", "global-value")
    make_secret("K", "web-prd-value", envs=["prd"], scope=["web"])
    _token, web = token_client(scope=["web"], can_write=True)
    assert web.patch(url("K") + "?env=prd", {"envs": ["dev", "prd"]}).status_code == 403
    assert web.patch(url("K") + "?env=prd", {"value": "new-web-value"}).status_code == 200
    assert su.get(ws_url("acme", "load") + "?env=dev").json()["secrets"] == {"K": "global-value"}


def test_env_restricted_writers_may_override_in_their_environment(
    workspace, dev, prd, make_secret, token_client, member, su
):
    """Every consumer of dev is within a dev writer's reach: the override is theirs to make."""
    make_secret("K", "global-value")
    _token, dev_token = token_client(envs=["dev"], can_write=True)
    body = {"key": "K", "value": "dev-value", "envs": ["dev"]}
    assert dev_token.post(ws_url("acme", "secrets"), body).status_code == 201
    assert su.get(ws_url("acme", "load") + "?env=prd").json()["secrets"] == {"K": "global-value"}
    assert su.get(ws_url("acme", "load") + "?env=dev").json()["secrets"] == {"K": "dev-value"}


# -- finding 7: one rollback rule ------------------------------------------------------------


def test_rollback_needs_change_and_rollback_in_every_door(workspace, make_secret, person):
    secret = make_secret("K", "v1")
    services.set_value(secret, "v2")
    user, client = person("view_secret", "rollback_secret")
    assert client.post(url("K", "rollback"), {"version": 1}).status_code == 403
    with pytest.raises(AccessDeniedError):
        services.rollback(secret, 1, actor=Actor(user=user))
    assert Secret.objects.get(pk=secret.pk).current_version == 2


# -- finding 8: a token cannot lift what a person set ---------------------------------------


def test_token_cannot_restore_a_persons_revocation(workspace, dev, make_secret, token_client, user_actor):
    secret = make_secret("K", "v", envs=["dev"])
    services.revoke_secret(secret, actor=user_actor)
    _token, client = token_client(envs=["dev"], can_write=True)
    assert client.post(url("K", "restore")).status_code == 403
    assert client.delete(url("K")).status_code == 403  # delete + re-create would lift it too
    assert client.get(url("K", "reveal")).status_code == 403
    assert Secret.objects.get(pk=secret.pk).is_revoked


def test_token_may_restore_what_a_token_revoked(workspace, dev, make_secret, token_client):
    make_secret("K", "v", envs=["dev"])
    _token, client = token_client(envs=["dev"], can_write=True)
    assert client.post(url("K", "revoke")).status_code == 200
    assert client.post(url("K", "restore")).status_code == 200
    assert client.get(url("K", "reveal")).json()["value"] == "v"


def test_token_cannot_extend_or_clear_a_persons_expiry(workspace, dev, make_secret, token_client):
    soon = timezone.now() + dt.timedelta(hours=1)
    make_secret("K", "v", envs=["dev"], expires_at=soon)
    _token, client = token_client(envs=["dev"], can_write=True)
    later = int((soon + dt.timedelta(days=30)).timestamp())
    assert client.patch(url("K"), {"expires_at": later}).status_code == 403
    assert client.patch(url("K"), {"expires_at": None}).status_code == 403
    assert client.delete(url("K")).status_code == 403
    earlier = int((soon - dt.timedelta(minutes=30)).timestamp())
    assert client.patch(url("K"), {"expires_at": earlier}).status_code == 200
    # Now the token set it: it may move it again.
    assert client.patch(url("K"), {"expires_at": later}).status_code == 200


def test_token_cannot_revive_an_expired_secret(workspace, dev, make_secret, token_client):
    secret = make_secret("K", "v", envs=["dev"], expires_at=timezone.now() + dt.timedelta(hours=1))
    Secret.objects.filter(pk=secret.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=5))
    _token, client = token_client(envs=["dev"], can_write=True)
    future = int((timezone.now() + dt.timedelta(hours=1)).timestamp())
    assert client.patch(url("K"), {"expires_at": future}).status_code == 403
    assert client.get(url("K", "reveal")).status_code == 403


# -- finding 9: history does not follow a secret into a new audience ------------------------


def test_rollback_refuses_a_value_written_for_another_audience(
    workspace, dev, prd, make_secret, token_client, user_actor
):
    secret = make_secret("K", "prd-only-value", envs=["prd"])
    services.update_secret(secret, envs=["dev"], value="dev-value", actor=user_actor)
    _token, client = token_client(envs=["dev"], can_write=True)
    response = client.post(url("K", "rollback"), {"version": 1})
    assert response.status_code == 403 and "prd-only-value" not in response.content.decode()
    assert client.get(url("K", "reveal")).json()["value"] == "dev-value"
    services.set_value(secret, "dev-value-2", actor=user_actor)
    assert client.post(url("K", "rollback"), {"version": 2}).status_code == 200
    assert client.get(url("K", "reveal")).json()["value"] == "dev-value"


def test_versions_record_their_audience(workspace, dev, prd, make_secret):
    secret = make_secret("K", "v", envs=["prd"], scope=["web"])
    services.update_secret(secret, envs=[], scope=[], value="v2")
    first, second = secret.versions.order_by("version")
    assert first.audience_envs == [str(prd.pk)] and first.audience_scope == ["web"]
    assert second.audience_envs == [] and second.audience_scope == []


# -- nothing answered confirms a secret the caller cannot see --------------------------------

ROUTES = [
    ("get", ""),
    ("get", "reveal/"),
    ("get", "versions/"),
    ("post", "rollback/"),
    ("post", "revoke/"),
    ("post", "restore/"),
    ("patch", ""),
    ("put", ""),
    ("delete", ""),
]


@pytest.mark.parametrize(("method", "tail"), ROUTES)
@pytest.mark.parametrize("who", ["token-dev", "member-dev", "token-web"])
def test_invisible_and_missing_secrets_get_the_same_404(
    workspace, dev, prd, make_secret, token_client, member, who, method, tail
):
    make_secret("PRD_ONLY", "prd-value", envs=["prd"])
    make_secret("WORKER_ONLY", "worker-value", envs=["dev"], scope=["worker"])
    if who == "member-dev":
        _user, client = member("developer", ["dev"])
    else:
        kwargs = {"envs": ["dev"]} if who == "token-dev" else {"scope": ["web"]}
        _token, client = token_client(can_write=True, **kwargs)
    invisible = "WORKER_ONLY" if who == "token-web" else "PRD_ONLY"
    body = {"version": 1, "value": "x"}
    hidden = getattr(client, method)(url(invisible) + tail, body)
    missing = getattr(client, method)(url("NO_SUCH_KEY") + tail, body)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


def test_an_invisible_override_does_not_hide_the_visible_global(
    workspace, dev, prd, make_secret, token_client
):
    """env=prd picks the prd-specific secret first, but only among what the caller sees."""
    make_secret("K", "global-value")
    make_secret("K", "worker-prd-value", envs=["prd"], scope=["worker"])
    _token, client = token_client(scope=["web"])
    response = client.get(url("K", "reveal") + "?env=prd")
    assert response.status_code == 200 and response.json()["value"] == "global-value"


# -- an environment out of reach answers alike whether it exists or not --------------------


@pytest.mark.parametrize("via_token", [False, True])
def test_env_out_of_reach_answers_like_a_missing_one(
    workspace, dev, prd, make_secret, member, make_token, via_token
):
    """A principal restricted to ``dev`` names ``prd`` (exists) or ``qa`` (does not): one answer.

    Before, the unknown one was a 400 "Unknown environment(s)" and the existing one a 403.
    """
    secret = make_secret("D", "d-value", envs=["dev"])
    if via_token:
        _token, raw = make_token(envs=["dev"], can_write=True)
        client = _client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    else:
        _user, client = member("developer", ["dev"])
    answers = {}
    for slug in ("prd", "qa"):
        created = client.post(
            ws_url("acme", "secrets"), {"key": "N", "value": "n", "envs": [slug]}, format="json"
        )
        moved = client.patch(url("D"), {"envs": [slug]}, format="json")
        answers[slug] = [(r.status_code, str(r.json()).replace(slug, "X")) for r in (created, moved)]
    assert answers["prd"] == answers["qa"]
    assert answers["prd"][0][0] == answers["prd"][1][0] == 403
    assert not Secret.objects.filter(key="N").exists() and secret.env_slugs() == ["dev"]
