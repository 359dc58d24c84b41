"""Shared fixtures. Tests run on SQLite by default, on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from secretvault import audit, crypto, services
from secretvault.audit import Actor
from secretvault.models import Environment, Secret, ServiceToken, Workspace


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.postgres`` tests, visibly, when the database is not PostgreSQL."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Each test starts with no unwrapped key, no audit head and an empty Django cache.

    The cache holds the failed-authentication counts: left over, one test's 401s
    would throttle the next test's requests.
    """
    from django.core.cache import caches

    crypto.reset_caches()
    audit.forget_chain_heads()
    for cache in caches.all(initialized_only=True):
        cache.clear()


def wait_for_a_fresh_throttle_window(margin: float = 15.0) -> None:
    """Sleep past the end of the current one-minute throttle window when it is near.

    The failed-authentication throttle counts in fixed windows of the wall clock;
    a test that counts failures must not straddle two of them.
    """
    import time

    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60.2 - into)


@pytest.fixture
def fresh_throttle_window() -> None:
    wait_for_a_fresh_throttle_window()


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def workspace(db: Any) -> Workspace:
    return services.create_workspace(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db: Any) -> Workspace:
    return services.create_workspace(slug="globex", name="Globex")


@pytest.fixture
def dev(workspace: Workspace) -> Environment:
    return services.create_environment(workspace, slug="dev", name="Development")


@pytest.fixture
def prd(workspace: Workspace) -> Environment:
    return services.create_environment(workspace, slug="prd", name="Production")


@pytest.fixture
def make_secret(workspace: Workspace) -> Callable[..., Secret]:
    """``make_secret("KEY", "value", envs=["prd"], ...)`` through the service layer."""

    def make(key: str = "API_KEY", value: str = "s3cr3t-value", **kwargs: Any) -> Secret:
        ws = kwargs.pop("workspace", workspace)
        return services.create_secret(ws, key=key, value=value, **kwargs)

    return make


@pytest.fixture
def make_token(workspace: Workspace) -> Callable[..., tuple[ServiceToken, str]]:
    """``token, raw = make_token(envs=["prd"], can_write=True)``."""

    def make(**kwargs: Any) -> tuple[ServiceToken, str]:
        ws = kwargs.pop("workspace", workspace)
        kwargs.setdefault("name", "test token")
        return services.create_token(ws, **kwargs)

    return make


@pytest.fixture
def superuser(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)


@pytest.fixture
def user_actor(superuser: Any) -> Actor:
    return Actor(user=superuser, remote_addr="127.0.0.1")
