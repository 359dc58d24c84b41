"""Breaker finding: free-text fields (names, descriptions) reached the database unchecked.

Through the core (what the command line and any caller use), a NUL in a description or
name was stored on SQLite and was a ``DataError`` on PostgreSQL ("database error" at the
command line); a name longer than its column was stored on SQLite and a ``DataError`` on
PostgreSQL. Bad input is a clear ``ValidationError`` naming the field, on both, and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from secretvault import services
from secretvault.models import AuditEvent, Environment, Secret, ServiceToken, Workspace

pytestmark = pytest.mark.django_db

WRITES: dict[str, Callable[[Workspace, Environment, Any], Any]] = {
    "secret description": lambda ws, env, bad: services.create_secret(
        ws, key="A", value="x", description=bad
    ),
    "secret description (update)": lambda ws, env, bad: services.update_secret(
        services.create_secret(ws, key="B", value="x"), description=bad
    ),
    "token name": lambda ws, env, bad: services.create_token(ws, name=bad),
    "token description": lambda ws, env, bad: services.create_token(ws, name="t", description=bad),
    "environment name": lambda ws, env, bad: services.create_environment(ws, slug="e1", name=bad),
    "environment name (update)": lambda ws, env, bad: services.update_environment(env, name=bad),
    "workspace name": lambda ws, env, bad: services.create_workspace(slug="w1", name=bad),
}


def _counts() -> tuple[int, ...]:
    return (
        Secret.objects.exclude(key="B").count(),
        ServiceToken.objects.count(),
        Environment.objects.count(),
        Workspace.objects.count(),
        sum("\x00" in name for name in Environment.objects.values_list("name", flat=True)),
    )


@pytest.mark.parametrize("bad", ["a\x00b", "n" * 100_001], ids=["nul", "huge"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_bad_text_is_a_validation_error_and_writes_nothing(workspace, dev, write, bad):
    if bad.startswith("n") and "description" in write:
        bad = "n" * 100_001 + "\x00"  # descriptions are unbounded text: only the NUL is wrong
    before = _counts()
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        WRITES[write](workspace, dev, bad)
    assert _counts() == before
    assert AuditEvent.objects.count() - events <= 1  # at most the secret "B" the update writes
    dev.refresh_from_db()
    assert dev.name == "Development"
