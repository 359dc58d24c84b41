"""Service-token authentication: ``Authorization: Bearer svt_<token_id>_<secret>``."""

from __future__ import annotations

from typing import Any, NoReturn

from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from secretvault import audit, crypto
from secretvault.api.throttling import AuthFailureThrottle
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.models import ServiceToken


class ServiceTokenUser:
    """``request.user`` of a request authenticated by a service token.

    Authenticated, but no Django user: it holds no model permission, and the
    audit trail records the token (``Actor.from_request`` reads ``request.auth``).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ServiceToken) -> None:
        self.token = token
        self.username = f"token:{token.token_id}"

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


class ServiceTokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: <keyword> <raw token>`` through ``ServiceToken.objects``.

    A request without that header is left to the next authentication class.
    With it, the token must be well-formed, known, unexpired and unrevoked, or
    the answer is 401 with a ``WWW-Authenticate`` challenge. Each failure is
    audited as ``auth.failed`` (with the token id when the token parses, never
    the raw token) and counted per client address; over the limit, every
    bearer attempt from that address is refused with 429 before any lookup.
    """

    #: The authorization scheme. Subclass and change it to accept e.g. ``Token``.
    keyword = "Bearer"
    realm = "secretvault"
    throttle_class = AuthFailureThrottle
    user_class = ServiceTokenUser

    invalid_message = _("Invalid, expired or revoked service token.")
    malformed_message = _("Malformed authorization header: use '%(keyword)s <token>'.")

    def get_throttle(self) -> AuthFailureThrottle:
        return self.throttle_class()

    @sensitive_variables()
    def authenticate(self, request: Any) -> tuple[ServiceTokenUser, ServiceToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None

        throttle = self.get_throttle()
        wait = throttle.wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait=wait)

        if len(parts) != 2:
            self.fail(request, throttle, "malformed", None)
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            self.fail(request, throttle, "malformed", None)

        token = ServiceToken.objects.authenticate(raw)
        if token is None:
            parsed = crypto.parse_token(raw, vault_settings.TOKEN_PREFIX)
            self.fail(request, throttle, "invalid" if parsed else "malformed", parsed[0] if parsed else None)
        token.touch()
        return self.user_class(token), token

    def fail(
        self, request: Any, throttle: AuthFailureThrottle, reason: str, token_id: str | None
    ) -> NoReturn:
        """Count and audit a failed attempt, then raise ``AuthenticationFailed`` (401)."""
        throttle.record_failure(request)
        detail: dict[str, Any] = {"reason": reason}
        if token_id:
            detail["token_id"] = token_id
        audit.record(
            "auth.failed",
            workspace=None,
            actor=Actor(remote_addr=audit.client_address(request)),
            detail=detail,
        )
        if reason == "malformed":
            raise exceptions.AuthenticationFailed(self.malformed_message % {"keyword": self.keyword})
        raise exceptions.AuthenticationFailed(self.invalid_message)

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="{self.realm}"'
