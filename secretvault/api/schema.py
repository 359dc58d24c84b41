"""OpenAPI 3 support (drf-spectacular): the bearer scheme, path patterns, error responses."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from secretvault.api.serializers import ConflictSerializer, ErrorSerializer
from secretvault.validators import KEY_RE, SLUG_RE

PUBLIC_ID_RE = r"^[0-9a-f]{16}$"

#: Path parameters of the API and the values they accept (anything else answers 404).
PATH_PARAMETERS: dict[str, tuple[str, str]] = {
    "ws": (SLUG_RE, "Workspace slug."),
    "slug": (SLUG_RE, "Environment slug."),
    "key": (KEY_RE, "Secret key. With several secrets of this key, pick one with ?env=."),
    "token_id": (PUBLIC_ID_RE, "Public id of the service token (16 hex digits)."),
}


class VaultAutoSchema(AutoSchema):
    """AutoSchema that documents the patterns of the API's path parameters."""

    def _resolve_path_parameters(self, variables: Any) -> Any:
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            known = PATH_PARAMETERS.get(parameter["name"])
            if known is not None:
                pattern, description = known
                parameter["schema"] = {"type": "string", "pattern": pattern}
                parameter["description"] = description
        return parameters


def document(**kwargs: Any) -> Callable[[Any], Any]:
    """``extend_schema`` based on ``VaultAutoSchema`` whatever ``DEFAULT_SCHEMA_CLASS`` says.

    On a view method ``extend_schema`` derives its schema from the project's
    ``DEFAULT_SCHEMA_CLASS`` (DRF's own AutoSchema when the project names none), which
    drf-spectacular cannot use. Naming the base in the method's ``kwargs`` first (where
    ``extend_schema`` looks before the default) keeps the API documented either way.
    """

    def decorator(target: Any) -> Any:
        if not inspect.isclass(target):
            if getattr(target, "kwargs", None) is None:
                target.kwargs = {}
            target.kwargs.setdefault("schema", VaultAutoSchema)
        return extend_schema(**kwargs)(target)

    return decorator


def document_view(**actions: dict[str, Any]) -> Callable[[type], type]:
    """``document(**kwargs)`` on each named method the viewset class defines itself."""

    def decorator(cls: type) -> type:
        for name, kwargs in actions.items():
            setattr(cls, name, document(**kwargs)(cls.__dict__[name]))
        return cls

    return decorator


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "secretvault.api.authentication.ServiceTokenAuthentication"
    name = "serviceToken"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> Any:
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix=self.target.keyword,
            bearer_format="svt_<token_id>_<secret>",
        )
        scheme["description"] = (
            "A service token, as `manage.py secretvault token create` or "
            "POST /workspaces/{ws}/tokens/ printed it once."
        )
        return scheme


class VaultSessionScheme(OpenApiAuthenticationExtension):
    target_class = "secretvault.api.authentication.VaultSessionAuthentication"
    name = "cookieAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> Any:
        from django.conf import settings

        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A Django session (the admin login). Writes need the CSRF token; reveal "
            "and load need a same-origin request (Sec-Fetch-Site) or an X-Requested-With header.",
        }


class VaultBasicScheme(OpenApiAuthenticationExtension):
    """HTTP Basic, in the document only where ``SECRETVAULT["API_BASIC_AUTH"]`` enables it."""

    target_class = "secretvault.api.authentication.VaultBasicAuthentication"
    match_subclasses = True

    @property
    def name(self) -> list[str]:  # type: ignore[override]
        from secretvault.conf import vault_settings

        return ["basicAuth"] if vault_settings.API_BASIC_AUTH else []

    def get_security_requirement(self, auto_schema: Any) -> Any:
        return {name: [] for name in self.name} or None

    def get_security_definition(self, auto_schema: Any) -> Any:
        return [{"type": "http", "scheme": "basic"} for _name in self.name]


_ERRORS: dict[int, OpenApiResponse] = {
    304: OpenApiResponse(description="Not modified: the If-None-Match ETag is current."),
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Invalid input: an object mapping each field (or non_field_errors) "
        "to a list of messages. Messages never contain a secret value.",
    ),
    401: OpenApiResponse(
        ErrorSerializer,
        description="Missing, malformed, unknown, expired or revoked credentials "
        "(with a WWW-Authenticate challenge).",
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        description="Authenticated, but not allowed: a missing permission, a read-only "
        "token, or an environment or scope outside the token's reach.",
    ),
    404: OpenApiResponse(
        ErrorSerializer,
        description="No such workspace, object or page, or not visible to this token.",
    ),
    409: OpenApiResponse(
        ConflictSerializer,
        description="Conflict: a duplicate key or slug, overlapping environment sets, an "
        "object still in use, or a check-and-set (expected_version) mismatch.",
    ),
    413: OpenApiResponse(
        ErrorSerializer,
        description="The request body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    ),
    429: OpenApiResponse(
        ErrorSerializer,
        description="Too many failed token attempts from this address; retry after Retry-After seconds.",
    ),
    503: OpenApiResponse(
        ErrorSerializer,
        description="The vault cannot use its keys (master keyring or data key problem).",
    ),
}

#: Answers any authenticated endpoint can give.
COMMON = (401, 403, 429)


def responses(ok: Any, *codes: int, status: int = 200) -> dict[int, Any]:
    """``{status: ok}`` plus the error responses ``codes`` and ``COMMON``."""
    documented: dict[int, Any] = {status: ok}
    for code in sorted({*codes, *COMMON}):
        documented[code] = _ERRORS[code]
    return documented


ENV_PARAMETER = OpenApiParameter(
    "env",
    str,
    OpenApiParameter.QUERY,
    pattern=SLUG_RE,
    description="Environment slug: picks the secret of this key serving it (its own, else the "
    "global one). Without it: the global secret, or the only one. A token restricted to one "
    "environment gets that one by default.",
)
