"""Seed the fuzz server's fresh database and print the credentials (JSON on stdout).

``python -m tests.fuzz.seed`` with ``DJANGO_SETTINGS_MODULE=tests.fuzz.settings``: a
superuser with a session (cookie value and CSRF token), a group, a workspace ``acme`` with the
environments ``dev`` and ``prd``, a few secrets, and an unrestricted write token.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def seed() -> dict[str, Any]:
    """Create the data and credentials; return what the schemathesis runs send."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import CSRF_SESSION_KEY, _get_new_csrf_string

    from secretvault import services

    user = get_user_model().objects.create_superuser("fuzz", "fuzz@example.com", "fuzz-password-1")
    Group.objects.create(name="fuzzers")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    csrf_secret = _get_new_csrf_string()
    session[CSRF_SESSION_KEY] = csrf_secret  # CSRF_USE_SESSIONS (tests.fuzz.settings)
    session.create()

    workspace = services.create_workspace(slug="acme", name="Acme")
    for slug in ("dev", "prd"):
        services.create_environment(workspace, slug=slug)
    services.create_secret(workspace, key="API_KEY", value="fuzz-global")
    services.create_secret(workspace, key="API_KEY", value="fuzz-prd", envs=["prd"])
    services.create_secret(workspace, key="SOLO", value="fuzz-solo", envs=["dev"], scope=["web"])
    _token, raw = services.create_token(workspace, name="fuzz-writer", can_write=True)
    return {
        "token": raw,
        "sessionid": session.session_key,
        "csrftoken": csrf_secret,
        "workspace": workspace.slug,
    }


def main() -> int:
    import django

    django.setup()
    json.dump(seed(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
