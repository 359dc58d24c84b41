"""Who did what: the actor of a write or read, and the audit trail it leaves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

    from secretvault.models import AuditEvent, ServiceToken, Workspace


@dataclass(frozen=True)
class Actor:
    """A person (Django user), a service token, or neither (a system task)."""

    user: AbstractBaseUser | None = None
    token: ServiceToken | None = None
    remote_addr: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        from secretvault.models import ServiceToken

        auth = getattr(request, "auth", None)
        user: AbstractBaseUser | AnonymousUser | None = getattr(request, "user", None)
        token = auth if isinstance(auth, ServiceToken) else None
        if token is not None or user is None or not user.is_authenticated:
            user = None
        return cls(user=user, token=token, remote_addr=client_address(request))  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"token:{self.token.token_id}"
        if self.user is not None:
            return self.user.get_username()
        return "system"


SYSTEM = Actor()


def client_address(request: HttpRequest) -> str | None:
    """The peer address Django saw. Proxies should set REMOTE_ADDR (e.g. via their WSGI server)."""
    address = request.META.get("REMOTE_ADDR") or None
    if address is None:
        return None
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_ipv46_address

    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def record(
    action: str,
    *,
    workspace: Workspace | None,
    actor: Actor | None = None,
    key: str = "",
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. ``detail`` holds names and numbers, never a value."""
    from secretvault.models import AuditEvent

    actor = actor or SYSTEM
    return AuditEvent.objects.create(
        workspace=workspace,
        action=action,
        key=key,
        version=version,
        user=actor.user,
        username=actor.user.get_username() if actor.user is not None else "",
        token_id=actor.token.token_id if actor.token is not None else "",
        remote_addr=actor.remote_addr,
        detail=detail or {},
    )
