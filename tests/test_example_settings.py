"""The example project's cache settings survive a stalled Redis (issue #17, item 8).

A Redis that accepts connections but never answers must cost a bounded wait, not a
hung request: the example project gives Django's RedisCache connect and socket
timeouts. The subprocess's own ``timeout`` is only a guard against hanging the suite;
the assertion is on the error the cache raises.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.settings import TEST_MASTER_KEY

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    options = settings.CACHES["default"]["OPTIONS"]
    print("options", options["socket_connect_timeout"], options["socket_timeout"])
    try:
        cache.get("probe")
    except Exception as exc:
        print("raised", type(exc).__name__)
    else:
        print("answered")
    """
)


@pytest.fixture
def stalled_redis() -> Iterator[int]:
    """A listening socket that accepts connections and never answers (a stalled Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def _probe(port: int, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "SECRETVAULT_MASTER_KEYS": TEST_MASTER_KEY,
        "CACHE_URL": f"redis://127.0.0.1:{port}/0",
        "DATABASE_URL": "sqlite://:memory:",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_stalled_redis_times_out_instead_of_hanging(stalled_redis: int) -> None:
    result = _probe(stalled_redis)
    assert result.returncode == 0, result.stderr
    assert "options 0.5 0.5" in result.stdout
    assert "raised TimeoutError" in result.stdout


def test_cache_timeouts_come_from_the_environment(stalled_redis: int) -> None:
    result = _probe(stalled_redis, CACHE_CONNECT_TIMEOUT="0.2", CACHE_SOCKET_TIMEOUT="0.3")
    assert result.returncode == 0, result.stderr
    assert "options 0.2 0.3" in result.stdout
