"""A write checked against a stale copy of a secret (breaker2).

A door fetches the secret (with its environments prefetched), and the service checks
the actor's reach on that copy. If someone moves the secret to an environment out of
the actor's reach in between, the write must still be refused: the reach is asked
again of the locked row (SPEC §9), and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from secretvault import members, services
from secretvault.audit import Actor
from secretvault.errors import AccessError
from secretvault.models import Environment, Secret, SecretVersion, Workspace


def _update(secret: Secret, actor: Actor) -> None:
    services.update_secret(secret, value="written-by-dev", actor=actor)


def _expected_update(secret: Secret, actor: Actor) -> None:
    services.update_secret(secret, value="written-by-dev", expected_version=2, actor=actor)


def _rollback(secret: Secret, actor: Actor) -> None:
    services.rollback(secret, 1, actor=actor)


def _revoke(secret: Secret, actor: Actor) -> None:
    services.revoke_secret(secret, actor=actor)


def _delete(secret: Secret, actor: Actor) -> None:
    services.delete_secret(secret, actor=actor)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "write", [_update, _expected_update, _rollback, _revoke, _delete], ids=lambda f: f.__name__
)
def test_a_write_on_a_stale_copy_is_refused_once_the_secret_left_the_actors_reach(
    workspace: Workspace,
    dev: Environment,
    prd: Environment,
    django_user_model: Any,
    write: Callable[[Secret, Actor], None],
) -> None:
    user = django_user_model.objects.create_user("devonly", password="pw")
    members.add_member(workspace, user=user, role="developer", envs=["dev"])
    services.create_secret(workspace, key="DB_PASSWORD", value="one", envs=["dev"])
    services.update_secret(Secret.objects.get(key="DB_PASSWORD"), value="two")
    stale = Secret.objects.prefetch_related("envs").get(key="DB_PASSWORD")
    assert stale.env_slugs() == ["dev"]
    # Meanwhile an unrestricted admin moves the secret to production.
    services.update_secret(Secret.objects.get(key="DB_PASSWORD"), envs=["prd"])
    with pytest.raises(AccessError):
        write(stale, Actor(user=user))
    fresh = Secret.objects.get(key="DB_PASSWORD")
    assert fresh.env_slugs() == ["prd"]
    assert not fresh.is_revoked
    assert SecretVersion.objects.filter(secret=fresh).count() == 2
