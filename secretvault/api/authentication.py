"""Authentication of the API: service tokens, sessions, and HTTP Basic where enabled.

- ``ServiceTokenAuthentication``: ``Authorization: Bearer svt_<token_id>_<secret>``.
- ``VaultSessionAuthentication``: the Django session (the admin login), with DRF's CSRF
  check on writes and a same-origin rule on reads that answer secret values.
- ``VaultBasicAuthentication``: HTTP Basic, only with ``SECRETVAULT["API_BASIC_AUTH"]``,
  and refused (429) for a username and address past the password-failure limit.

``AUTHENTICATION_CLASSES`` is the list the API's views use.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    BasicAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.permissions import SAFE_METHODS

from secretvault import audit, crypto
from secretvault.api.throttling import AuthFailureThrottle, PasswordFailureThrottle
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.models import ServiceToken

logger = logging.getLogger(__name__)


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
    the answer is 401 with a ``WWW-Authenticate`` challenge:

    - ``malformed``: the header is not ``<keyword> <one ASCII word>``;
    - ``not_a_token``: the word is not a service token (wrong shape, or its checksum
      fails: mistyped or truncated);
    - ``invalid``: a well-formed token that is unknown, revoked, expired, or whose
      secret is wrong (one answer for all, so nothing tells which).

    Success reads no failure counter (one indexed lookup; issue #14.1). Each failure
    is counted per client address (and per token id, ``AuthFailureThrottle``) and
    audited as ``auth.failed`` with its reason (and the token id when it parses,
    never the raw token). Past the limit an address's failures are answered 429 and
    no longer audited one by one; a valid token from that address still succeeds,
    because a lockout must never refuse a credential it was not caused by (#10.4).
    """

    #: The authorization scheme. Subclass and change it to accept e.g. ``Token``.
    keyword = "Bearer"
    realm = "secretvault"
    throttle_class = AuthFailureThrottle
    user_class = ServiceTokenUser

    invalid_message = _("Invalid, expired or revoked service token.")
    malformed_message = _("Malformed authorization header: use '%(keyword)s <token>'.")
    not_a_token_message = _("Not a valid service token: mistyped or truncated?")

    def get_throttle(self) -> AuthFailureThrottle:
        return self.throttle_class()

    @sensitive_variables()
    def authenticate(self, request: Any) -> tuple[ServiceTokenUser, ServiceToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            self.fail(request, "malformed")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            self.fail(request, "malformed")
        parsed = crypto.parse_token(raw, vault_settings.TOKEN_PREFIX)
        if parsed is None:
            self.fail(request, "not_a_token")
        check = ServiceToken.objects.verify(*parsed)
        if check.token is None:
            self.fail(request, "invalid", token_id=parsed[0], known_id=check.known_id)
        token = check.token
        token.touch()
        return self.user_class(token), token

    def fail(
        self, request: Any, reason: str, token_id: str | None = None, known_id: bool = False
    ) -> NoReturn:
        """Count, audit and refuse one failed attempt: raises 401, or 429 past the limit."""
        throttle = self.get_throttle()
        # Every well-formed id is counted, known or not: the same work either way.
        failures, wait = throttle.record_failure(request, token_id, known=known_id)
        if wait is not None:
            if failures == throttle.parse_rate()[0] + 1:
                logger.warning(
                    "secretvault: %d failed service-token attempts from %s in this window; "
                    "further failures are answered 429 and not audited until it ends",
                    failures,
                    throttle.address(request),
                )
            raise exceptions.Throttled(wait=wait)
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
        if reason == "not_a_token":
            raise exceptions.AuthenticationFailed(self.not_a_token_message)
        raise exceptions.AuthenticationFailed(self.invalid_message)

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="{self.realm}"'


class VaultSessionAuthentication(SessionAuthentication):
    """The Django session, for people using the API from a browser.

    Writes need the CSRF token (DRF's ``SessionAuthentication``). Reads that answer
    secret values (the view's ``same_origin_actions``: ``reveal`` and ``load``) must
    not be a plain cross-site request either (issue #17.6): a top-level link from
    another site would otherwise reveal as the victim and audit it in their name. Such
    a read is accepted when the browser says it is same-origin or user-initiated
    (``Sec-Fetch-Site: same-origin`` or ``none``), or when it carries an
    ``X-Requested-With`` header (any value), which a cross-site page cannot add without
    a CORS preflight the project would have to allow. Otherwise 403. Service tokens
    and Basic are not affected: a browser never adds them by itself.
    """

    same_origin_fetch_sites = frozenset({"same-origin", "none"})
    cross_site_message = _(
        "A session may read secret values only from this site: send the header "
        "'X-Requested-With' (any value) with the request, or use a service token."
    )

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None and request.method in SAFE_METHODS and self.reads_values(request):
            self.enforce_same_origin(request)
        return result

    @staticmethod
    def reads_values(request: Any) -> bool:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        return getattr(view, "action", None) in getattr(view, "same_origin_actions", ())

    def enforce_same_origin(self, request: Any) -> None:
        if request.headers.get("X-Requested-With"):
            return
        if request.headers.get("Sec-Fetch-Site", "").lower() in self.same_origin_fetch_sites:
            return
        raise exceptions.PermissionDenied(self.cross_site_message)


class VaultBasicAuthentication(BasicAuthentication):
    """HTTP Basic for people, only where ``SECRETVAULT["API_BASIC_AUTH"]`` is true (default false).

    Disabled, a ``Basic`` header is ignored (the request is then unauthenticated: 401).
    Enabled, a username past the password-failure limit from this address is refused
    with 429 before its password is checked; failures are counted and audited by
    ``secretvault.logins`` (Django's ``user_login_failed`` signal), like the admin's.
    """

    throttle_class = PasswordFailureThrottle

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        if not vault_settings.API_BASIC_AUTH:
            return None
        return super().authenticate(request)

    @sensitive_variables("password")
    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> tuple[Any, None]:
        throttle = self.throttle_class()
        wait = throttle.wait(throttle.subject(userid, request))
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        return super().authenticate_credentials(userid, password, request)


#: The API's authentication classes, in order (``VaultAPIView.authentication_classes``).
AUTHENTICATION_CLASSES: list[type[BaseAuthentication]] = [
    ServiceTokenAuthentication,
    VaultSessionAuthentication,
    VaultBasicAuthentication,
]
