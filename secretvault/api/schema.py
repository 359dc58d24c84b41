"""OpenAPI 3 support (drf-spectacular): the bearer scheme, path patterns, error responses.

The document says what the API does, and strict tools (openapi-spec-validator, Redocly's
``recommended`` rules, schemathesis) hold it to that (tests/api/test_schema.py,
``python -m tests.fuzz``):

- request bodies of serializers that refuse unknown fields (``StrictSerializer``) are
  ``additionalProperties: false``, and their non-blank strings ``minLength: 1``;
- ``WWW-Authenticate`` (401), ``Retry-After`` (429) and ``Allow`` (405) are response
  ``headers`` on every operation, ``ETag``/``Cache-Control`` where the view sends them;
- every operation documents 405, 406 and, when it reads a body, 415.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object, force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from secretvault.api.parameters import MAX_LIST_ITEMS
from secretvault.api.serializers import (
    ConflictSerializer,
    ErrorSerializer,
    SecretWriteSerializer,
    StrictSerializer,
)
from secretvault.conf import vault_settings
from secretvault.validators import KEY_RE, SCOPE_TAG_RE, SLUG_RE

PUBLIC_ID_RE = r"^[0-9a-f]{16}$"
UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

#: A comma-separated list of scope tags in a query string (``?scope=web,worker``).
SCOPE_LIST: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_LIST_ITEMS,
    "items": {"type": "string", "pattern": SCOPE_TAG_RE, "maxLength": 64},
}

#: Path parameters of the API and the values they accept (anything else answers 404).
PATH_PARAMETERS: dict[str, tuple[str, str]] = {
    "ws": (SLUG_RE, "Workspace slug."),
    "slug": (SLUG_RE, "Environment slug."),
    "key": (KEY_RE, "Secret key. With several secrets of this key, pick one with ?env=."),
    "token_id": (PUBLIC_ID_RE, "Public id of the service token (16 hex digits)."),
    "member_id": (UUID_RE, "Id of the membership (a UUID)."),
}


#: Response headers every operation can answer with, by status code.
STANDARD_RESPONSE_HEADERS: dict[str, dict[str, dict[str, Any]]] = {
    "401": {
        "WWW-Authenticate": {
            "required": True,
            "schema": {"type": "string"},
            "description": 'The challenge: `Bearer realm="secretvault"`.',
        }
    },
    "405": {
        "Allow": {
            "required": True,
            "schema": {"type": "string"},
            "description": "The methods this path answers, comma-separated.",
        }
    },
    "429": {
        "Retry-After": {
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
            "description": "Seconds to wait before the next attempt.",
        }
    },
}


_BLANK = {"type": "string", "maxLength": 0}


def ecma_pattern(pattern: str) -> str:
    """A Python whole-string regex (``\\A…\\Z``) as OpenAPI's ECMA-262 dialect writes it (``^…$``)."""
    return pattern.replace(r"\A", "^").replace(r"\Z", "$")


def _strict_alternatives(prop: dict[str, Any]) -> dict[str, Any]:
    """A property schema that OpenAPI 3.0.3 validators read as drf-spectacular meant it.

    - ``nullable`` needs a sibling ``type`` (OpenAPI 3.0.3 §4.7.24.1; Redocly's
      ``nullable-type-sibling``): beside ``anyOf``/``oneOf`` it is dropped, and a branch
      with a ``type`` carries it instead (ExpiryField's integer branch already does).
    - drf-spectacular offers blank strings as ``oneOf: [<string>, {maxLength: 0}]``; when
      ``<string>`` admits "" too, "" matches both branches and ``oneOf`` refuses it.
      ``anyOf`` says "either" without that trap.
    """
    keyword = "anyOf" if "anyOf" in prop else "oneOf" if "oneOf" in prop else None
    if keyword is None:
        return prop
    branches = [dict(branch) for branch in prop[keyword]]
    prop = {**prop, keyword: branches}
    if prop.get("nullable") and "type" not in prop:
        del prop["nullable"]
        if not any(branch.get("nullable") for branch in branches):
            typed = [branch for branch in branches if "type" in branch]
            if typed:
                typed[0]["nullable"] = True
    if "oneOf" in prop and _BLANK in prop["oneOf"]:
        prop["anyOf"] = prop.pop("oneOf")
    return prop


class VaultAutoSchema(AutoSchema):
    """AutoSchema that documents what the API enforces and answers beyond DRF's defaults.

    Path parameter patterns; ``additionalProperties: false`` and ``minLength: 1`` on the
    bodies of ``StrictSerializer`` subclasses; the standard response headers.
    """

    def get_auth(self) -> Any:
        """The security requirements; HTTP Basic only where ``API_BASIC_AUTH`` is on."""
        if vault_settings.API_BASIC_AUTH:
            return super().get_auth()
        from secretvault.api.authentication import VaultBasicAuthentication

        authenticators = self.view.get_authenticators()
        self.view.get_authenticators = lambda: [  # type: ignore[method-assign]  # this view, this call only
            authenticator
            for authenticator in authenticators
            if not isinstance(authenticator, VaultBasicAuthentication)
        ]
        try:
            return super().get_auth()
        finally:
            delattr(self.view, "get_authenticators")

    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if isinstance(force_instance(serializer), StrictSerializer) and schema.get("type") == "object":
            schema["additionalProperties"] = False
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        for name, prop in schema.get("properties", {}).items():
            schema["properties"][name] = _strict_alternatives(prop)
        return schema

    def _get_serializer_field_meta(self, field: Any, direction: str) -> Any:
        meta = super()._get_serializer_field_meta(field, direction)
        # Whatever COMPONENT_SPLIT_REQUEST says: a writable string that may not be blank
        # is at least one character long.
        if (
            isinstance(field, serializers.CharField)
            and not field.allow_blank
            and not field.read_only
            and isinstance(field.parent, StrictSerializer)
        ):
            meta["minLength"] = 1
        return meta

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if field.field_name == "value" and isinstance(field.parent, SecretWriteSerializer):
            # validators.validate_value: no NUL, at most MAX_VALUE_BYTES bytes of UTF-8
            # (so at most that many characters; the byte count is in the description).
            schema.update(pattern=r"^[^\u0000]*$", maxLength=vault_settings.MAX_VALUE_BYTES)
        return schema

    def _get_filter_parameters(self) -> Any:
        """django-filter parameters, with the patterns and lengths their form fields enforce."""
        parameters = super()._get_filter_parameters()
        filterset_class = getattr(self.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class is not None else {}
        for parameter in parameters:
            declared = filters.get(parameter["name"])
            schema = parameter.get("schema", {})
            if declared is None:
                continue
            # GivenMeansValueFilterSet: a parameter given is not empty.
            if schema.get("type") == "array":
                schema["minItems"] = 1
            if schema.get("type") != "string" or "enum" in schema:
                continue
            schema.setdefault("minLength", 1)
            for validator in declared.extra.get("validators", []):
                if isinstance(validator, RegexValidator):
                    schema.setdefault("pattern", ecma_pattern(re.compile(validator.regex).pattern))
            if declared.extra.get("max_length"):
                schema["maxLength"] = declared.extra["max_length"]
        return parameters

    def _get_response_headers_for_code(self, status_code: str, direction: str = "response") -> Any:
        headers = dict(STANDARD_RESPONSE_HEADERS.get(str(status_code), {}))
        headers.update(super()._get_response_headers_for_code(status_code, direction))
        return headers

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


class VaultSessionScheme(OpenApiAuthenticationExtension):
    """The Django session cookie, with the API's extra header rules in its description."""

    target_class = "secretvault.api.authentication.VaultSessionAuthentication"
    name = "cookieAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> Any:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A Django session (the admin login). Writes send the CSRF token in "
            "X-CSRFToken; reveal and load send X-Requested-With (any value) or come from this "
            "site (Sec-Fetch-Site), otherwise 403.",
        }


class VaultBasicScheme(OpenApiAuthenticationExtension):
    """HTTP Basic: documented only where ``SECRETVAULT["API_BASIC_AUTH"]`` turns it on."""

    target_class = "secretvault.api.authentication.VaultBasicAuthentication"
    name = "basicAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> Any:
        return {
            "type": "http",
            "scheme": "basic",
            "description": 'A person\'s username and password; only where SECRETVAULT["API_BASIC_AUTH"] '
            "is true.",
        }


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
    405: OpenApiResponse(
        ErrorSerializer,
        description="This path does not answer the request's method; Allow lists those it does.",
    ),
    406: OpenApiResponse(
        ErrorSerializer,
        description="The Accept header admits no type the API serves (it serves application/json).",
    ),
    413: OpenApiResponse(
        ErrorSerializer,
        description="The request body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    ),
    415: OpenApiResponse(
        ErrorSerializer,
        description="The request body is not application/json.",
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
COMMON = (401, 403, 405, 406, 429)
#: Answers of an endpoint that reads a JSON body.
BODY = (400, 413, 415)


def responses(ok: Any, *codes: int, status: int = 200) -> dict[int, Any]:
    """``{status: ok}`` plus the error responses ``codes`` and ``COMMON``.

    413 in ``codes`` (the endpoint reads a body) brings 415 along.
    """
    documented: dict[int, Any] = {status: ok}
    wanted = {*codes, *COMMON}
    if 413 in wanted:
        wanted.update(BODY)
    for code in sorted(wanted):
        documented[code] = _ERRORS[code]
    return documented


def public_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses ``codes`` alone (for endpoints without authentication)."""
    return {code: _ERRORS[code] for code in codes}


def no_store(*codes: int) -> OpenApiParameter:
    """The ``Cache-Control: no-store`` response header of ``codes`` (views.NO_STORE)."""
    return OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        response=list(codes),
        required=True,
        enum=["no-store"],
        description="The answer holds a secret: never stored by a cache.",
    )


ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    required=True,
    description="Strong validator of the resolved map; send it back in If-None-Match.",
)


ENV_PARAMETER = OpenApiParameter(
    "env",
    str,
    OpenApiParameter.QUERY,
    pattern=SLUG_RE,
    description="Environment slug: picks the secret of this key serving it (its own, else the "
    "global one). Without it: the global secret, or the only one. A token restricted to one "
    "environment gets that one by default.",
)
