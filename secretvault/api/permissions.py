"""Who may do what through the API: the door's side of ``secretvault.access``.

The rule itself -- which workspaces, environments, scope tags and actions a service
token or a person reaches -- lives in ``secretvault.access`` and is the same for the
admin and the command line. Here the API only asks it:

* ``VaultPermission`` lets authenticated requests in;
* ``VaultAPIView.get_workspace`` (``secretvault.api.views``) answers 404 for a workspace
  the principal does not reach (another token's, or one where a person holds neither a
  global permission nor a membership), then 403 unless the principal holds every codename
  the view's ``required_permissions`` maps the action to;
* object routes look secrets up among those the principal sees (404 otherwise, with the
  body of a missing one) and ask ``Reach.check_secret`` for the action (403);
* writes go through ``secretvault.services``, which ask ``access`` again.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from secretvault.access import Principal, principal_for_request
from secretvault.models import ServiceToken


def request_token(request: Any) -> ServiceToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ServiceToken) else None


def request_principal(request: Any) -> Principal:
    """The principal of a request (cached on its user or token for the request's lifetime)."""
    return principal_for_request(request)


class VaultPermission(BasePermission):
    """Authenticated requests only; every action is then judged by ``secretvault.access``."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return True  # the views ask secretvault.access for each object
