"""Fixtures of the API tests: clients authenticated as a token, a superuser, or a person."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.test import APIClient

API = "/api/v1"


def ws_url(ws: str = "acme", *parts: str) -> str:
    tail = "".join(f"{part}/" for part in parts)
    return f"{API}/workspaces/{ws}/{tail}"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # The auth-failure counters live in the cache; each test starts under the limit.
    cache.clear()


def _client(**credentials: str) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    if credentials:
        client.credentials(**credentials)
    return client


@pytest.fixture
def anon() -> APIClient:
    return _client()


def basic(username: str, password: str = "pw") -> str:  # noqa: S107 - the fixtures' password
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def su(superuser: Any) -> APIClient:
    """A superuser through HTTP Basic authentication."""
    return _client(HTTP_AUTHORIZATION=basic(superuser.username))


@pytest.fixture
def bearer() -> Callable[[str], APIClient]:
    def make(raw: str) -> APIClient:
        return _client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make


@pytest.fixture
def token_client(make_token: Any, bearer: Any) -> Callable[..., tuple[Any, APIClient]]:
    """``token, client = token_client(envs=["prd"], can_write=True)``."""

    def make(**kwargs: Any) -> tuple[Any, APIClient]:
        token, raw = make_token(**kwargs)
        return token, bearer(raw)

    return make


@pytest.fixture
def person(django_user_model: Any) -> Callable[..., tuple[Any, APIClient]]:
    """``user, client = person("view_secret", "reveal_secret")``: a non-superuser, via Basic."""
    counter = {"n": 0}

    def make(*codenames: str) -> tuple[Any, APIClient]:
        counter["n"] += 1
        user = django_user_model.objects.create_user(f"person{counter['n']}", password="pw")
        if codenames:
            perms = Permission.objects.filter(content_type__app_label="secretvault", codename__in=codenames)
            assert perms.count() == len(set(codenames)), codenames
            user.user_permissions.add(*perms)
        return user, _client(HTTP_AUTHORIZATION=basic(user.username))

    return make
