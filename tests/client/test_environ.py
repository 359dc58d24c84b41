"""``secretvault_client.environ.Env``: django-environ's API over a live vault (SPEC §10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from secretvault_client.environ import Env
from tests.client.conftest import VAULT_VARIABLES, Vault

REPO = Path(__file__).resolve().parents[2]

REPORT = """
import json, django
django.setup()
from django.conf import settings
from django.core.cache import caches
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
    (one,) = cursor.fetchone()
caches["default"].set("k", "v")
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "DEBUG": settings.DEBUG,
    "ENGINE": settings.DATABASES["default"]["ENGINE"],
    "NAME": str(settings.DATABASES["default"]["NAME"]),
    "CACHE": [settings.CACHES["default"]["BACKEND"], settings.CACHES["default"].get("LOCATION")],
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "query": one,
    "cache": caches["default"].get("k"),
}))
"""


def second_project(vault: Vault, **extra: str) -> dict[str, Any]:
    environment = {name: value for name, value in os.environ.items() if name not in VAULT_VARIABLES}
    for name in ("DEBUG", "DATABASE_URL", "CACHE_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
        environment.pop(name, None)
    environment.update(
        SECRETVAULT_URL=vault.url,
        SECRETVAULT_TOKEN=vault.read_token,
        SECRETVAULT_ENV="prd",
        DJANGO_SETTINGS_MODULE="tests.environ_settings",
        **extra,
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", REPORT], env=environment, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def configured(vault: Vault, make_secret: Any, tmp_path: Path) -> Path:
    database = tmp_path / "second.sqlite3"
    make_secret("DATABASE_URL", f"sqlite:///{database}", envs=["prd"])
    make_secret("CACHE_URL", "locmemcache://second-project", envs=["prd"])
    make_secret("DEBUG", "on", envs=["prd"])
    make_secret("SECRET_KEY", "$not-a-reference-to-another-variable", envs=["prd"])
    return database


def test_a_second_project_takes_databases_caches_and_debug_from_the_vault(
    vault: Vault, configured: Path
) -> None:
    seen = second_project(vault)
    assert seen == {
        "SECRET_KEY": "$not-a-reference-to-another-variable",  # literal, byte for byte
        "DEBUG": True,
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(configured),
        "CACHE": ["django.core.cache.backends.locmem.LocMemCache", "second-project"],
        "ALLOWED_HOSTS": ["localhost"],  # not in the vault: the default
        "query": 1,
        "cache": "v",
    }


def test_os_environ_wins_over_the_vault(vault: Vault, configured: Path) -> None:
    seen = second_project(vault, DEBUG="off", ALLOWED_HOSTS="a.example,b.example")
    assert seen["DEBUG"] is False
    assert seen["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert seen["NAME"] == str(configured)


class MapClient:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.loads = 0

    def load(self) -> dict[str, str]:
        self.loads += 1
        return self.secrets


def test_env_casts_like_django_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKERS", "RATIO", "FLAGS", "HOSTS", "LIMITS", "MAIL", "MISSING"):
        monkeypatch.delenv(name, raising=False)
    env = Env(
        client=MapClient(  # type: ignore[arg-type]
            {
                "WORKERS": "4",
                "RATIO": "0.25",
                "FLAGS": '{"beta": true}',
                "HOSTS": "a,b",
                "LIMITS": "x=1,y=2",
                "MAIL": "smtp://user:pw@mail.example:587",
            }
        ),
        LIMITS=(dict, {}),
    )
    assert env.int("WORKERS") == 4 and env.float("RATIO") == 0.25
    assert env.json("FLAGS") == {"beta": True}
    assert env.list("HOSTS") == ["a", "b"]
    assert env("LIMITS") == {"x": "1", "y": "2"}  # the scheme given to Env()
    assert env.email_url("MAIL")["EMAIL_HOST"] == "mail.example"
    assert env.str("MISSING", default="fallback") == "fallback"
    assert "WORKERS" in env.ENVIRON and "MISSING" not in env.ENVIRON
    with pytest.raises(ImproperlyConfigured, match="Set the MISSING environment variable"):
        env.str("MISSING")


def test_env_loads_lazily_and_accepts_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    client = MapClient({"A": "1"})
    env = Env(client=client)  # type: ignore[arg-type]
    assert client.loads == 0
    assert env.str("A") == "1"
    with pytest.raises(TypeError, match="not both"):
        Env(client=client, url="http://127.0.0.1:1/api/v1/")  # type: ignore[arg-type]
    configured = Env(
        url="http://127.0.0.1:1/api/v1/", token="svt_a_b", workspace="acme", env="prd", retries=0
    )
    assert configured.client.env == "prd" and configured.client.retries == 0


def test_env_alone_is_configured_by_the_variables(
    vault: Vault, configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETVAULT_URL", vault.url)
    monkeypatch.setenv("SECRETVAULT_TOKEN", vault.read_token)
    monkeypatch.setenv("SECRETVAULT_ENV", "prd")
    monkeypatch.delenv("DEBUG", raising=False)
    env = Env()
    assert env.bool("DEBUG") is True
    assert env.client.workspace == "acme"  # discovered from the token
