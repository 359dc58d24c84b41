"""Failed password logins: counted, audited, and refused for a while (issue #10.5).

Every door where a person types a password goes through
``django.contrib.auth.authenticate``: the admin login, any login view, and the
API's HTTP Basic (``VaultBasicAuthentication``, where enabled). Two hooks:

- ``record_failed_login``, a receiver of Django's ``user_login_failed`` signal,
  counts the failure per username and client address (``PasswordFailureThrottle``,
  in Django's cache: shared between workers with Redis) and records an
  ``auth.failed`` audit event with the username and address. The password never
  reaches it (Django hands receivers the credentials with the password masked, and
  this code reads only the username).
- ``LoginThrottleBackend``, listed first in ``AUTHENTICATION_BACKENDS``, refuses a
  username from an address past the limit before any other backend checks the
  password, so the right password is refused too until the window ends. It
  authenticates nobody itself.

Past the limit, one more event (reason ``password_locked``) marks the lockout;
further failures in that window are counted but not audited one by one.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from secretvault import audit
from secretvault.api.throttling import PasswordFailureThrottle
from secretvault.audit import Actor

#: Usernames are cut to this many characters in audit events.
USERNAME_MAX_LENGTH = 150


def _username(credentials: dict[str, Any]) -> str | None:
    field = get_user_model().USERNAME_FIELD
    username = credentials.get(field, credentials.get("username"))
    return username if isinstance(username, str) else None


class LoginThrottleBackend:
    """An authentication backend that only refuses: a username from an address past the limit.

    Put it first in ``AUTHENTICATION_BACKENDS``::

        AUTHENTICATION_BACKENDS = [
            "secretvault.logins.LoginThrottleBackend",
            "django.contrib.auth.backends.ModelBackend",
        ]

    ``authenticate`` raises ``PermissionDenied`` while the limit holds (Django then
    stops trying backends and the login fails) and returns ``None`` otherwise. It
    answers no permission question either.
    """

    throttle_class = PasswordFailureThrottle

    def authenticate(self, request: Any, username: str | None = None, **credentials: Any) -> None:
        if username is None:
            username = _username(credentials)
        if username is None:
            return None
        throttle = self.throttle_class()
        if throttle.wait(throttle.subject(username, request)) is not None:
            raise PermissionDenied("Too many failed logins; try again later.")
        return None

    # No ``get_user``: a session never names this backend (Django's test client's
    # ``force_login`` picks the first backend that has one).


@receiver(user_login_failed, dispatch_uid="secretvault.logins.record_failed_login")
def record_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Count and audit one failed password login (the password is never read)."""
    username = _username(credentials)
    if username is None:
        return
    throttle = PasswordFailureThrottle()
    failures, wait = throttle.count_and_wait(throttle.subject(username, request))
    limit, _window = throttle.parse_rate()
    if wait is not None and failures > limit + 1:
        return
    detail = {
        "reason": "password_locked" if wait is not None else "password",
        "username": username[:USERNAME_MAX_LENGTH],
    }
    audit.record(
        "auth.failed",
        workspace=None,
        actor=Actor(remote_addr=audit.client_address(request) if request is not None else None),
        detail=detail,
    )
