"""The REST API (SPEC §3): DRF viewsets over the Core services.

Every view sets its authentication, permission, parser, renderer, pagination and
filter classes itself, so the API behaves the same whatever the project's
``REST_FRAMEWORK`` settings. Writes go through ``secretvault.services`` (which
validate, lock, write the audit event in the same transaction and signal after
commit); Core errors are mapped to HTTP answers in ``VaultAPIView.handle_exception``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.db.models.query import prefetch_related_objects
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import parse_etags
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from secretvault import services
from secretvault.access import Reach
from secretvault.api import schema as api_schema
from secretvault.api.authentication import AUTHENTICATION_CLASSES
from secretvault.api.filters import SecretFilterSet
from secretvault.api.negotiation import VaultContentNegotiation
from secretvault.api.pagination import VaultPagination
from secretvault.api.parameters import check_query_names
from secretvault.api.parsers import VaultJSONParser
from secretvault.api.permissions import VaultPermission, request_principal, request_token
from secretvault.api.schema import ENV_PARAMETER, VaultAutoSchema, document, document_view, responses
from secretvault.api.serializers import (
    EnvironmentSerializer,
    EnvironmentWriteSerializer,
    LoadSerializer,
    NoFieldsSerializer,
    RollbackSerializer,
    SecretCreateSerializer,
    SecretRevealSerializer,
    SecretSerializer,
    SecretUpdateSerializer,
    SecretVersionSerializer,
    StatsSerializer,
    WorkspaceCreateSerializer,
    WorkspaceSerializer,
)
from secretvault.audit import Actor
from secretvault.errors import (
    AccessDeniedError,
    AmbiguousSecretError,
    ConflictError,
    CryptoError,
    NotVisibleError,
    UnknownVersionError,
    VersionMismatchError,
)
from secretvault.models import (
    Environment,
    Secret,
    SecretVersion,
    Workspace,
)
from secretvault.validators import validate_key, validate_scope, validate_slug

logger = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}

# ----------------------------------------------------------------------------------
# Errors


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the stored state."
    default_code = "conflict"

    def __init__(self, detail: Any = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.extra = extra or {}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE)."
    default_code = "payload_too_large"


class VaultUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The vault cannot use its encryption keys right now. The operators have been "
        "notified through the server log."
    )
    default_code = "vault_unavailable"


def _validation_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def translate_exception(exc: Exception) -> Exception:
    """The DRF exception answering a Core (or Django) exception; others unchanged.

    No message of a Core exception carries a secret value (secretvault.errors).
    """
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(_validation_detail(exc))
    if isinstance(exc, NotVisibleError):
        return exceptions.NotFound()  # the very answer a missing object gets
    if isinstance(exc, AccessDeniedError):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, VersionMismatchError):
        return Conflict(str(exc), extra={"current_version": exc.current})
    if isinstance(exc, ConflictError):
        return Conflict(str(exc))
    if isinstance(exc, AmbiguousSecretError):
        return exceptions.ValidationError({"env": [str(exc)]})
    if isinstance(exc, UnknownVersionError):
        return exceptions.ValidationError({"version": [str(exc)]})
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, CryptoError):
        # Core crypto errors name keys and rows, never values; the place names the row.
        logger.error("secretvault API: %s at %s: %s", type(exc).__name__, exc.place(), exc)
        return VaultUnavailable()
    return exc


# ----------------------------------------------------------------------------------
# Base


class VaultAPIView(GenericViewSet):
    """Base of the API's viewsets: explicit policies and Core error mapping."""

    authentication_classes = AUTHENTICATION_CLASSES
    #: Actions answering secret values: a session must not run them cross-site (api/authentication.py).
    same_origin_actions = frozenset({"reveal", "load"})
    permission_classes = [VaultPermission]
    parser_classes = [VaultJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = VaultContentNegotiation
    pagination_class = VaultPagination
    filter_backends: list[Any] = []
    metadata_class = None
    # No OPTIONS: nothing to introspect for strangers (405).
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    schema = VaultAutoSchema()
    lookup_value_regex = "[^/]+"
    #: action → permission codenames in ``secretvault``, asked of ``secretvault.access`` for
    #: tokens and people alike. Missing action: refused.
    required_permissions: dict[str, list[str]] = {}
    workspace_url_kwarg = "ws"

    def handle_exception(self, exc: Exception) -> Response:
        translated = translate_exception(exc)
        response = super().handle_exception(translated)
        if isinstance(translated, Conflict) and translated.extra and isinstance(response.data, dict):
            response.data.update(translated.extra)
        return response

    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        check_query_names(request.query_params)  # ?env= and friends: 400, never "none"
        # An action outside the table (a method the route lacks, OPTIONS): 405 from the handler.
        if (
            self.workspace_url_kwarg in self.kwargs
            and getattr(self, "action", None) in self.required_permissions
        ):
            self.get_workspace()  # 404 / 403 before anything else is read

    def get_workspace(self) -> Workspace:
        """The workspace the URL names, reached by the requester for this action.

        404 if the slug is invalid or unknown, or the workspace is out of reach (another
        token's; for a person, no global permission and no membership): the same answer.
        403 when it is reached but the action's ``required_permissions`` are not held.
        """
        cached = getattr(self, "_workspace", None)
        if cached is not None:
            return cached
        slug = self.kwargs.get(self.workspace_url_kwarg, "")
        if not _matches(validate_slug, slug):
            raise exceptions.NotFound()
        token = request_token(self.request)
        if token is not None:
            workspace = token.workspace if token.workspace.slug == slug else None
        else:
            workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise exceptions.NotFound()
        principal = request_principal(self.request)
        if not principal.reaches(workspace):
            raise exceptions.NotFound()
        codenames = self.required_permissions.get(getattr(self, "action", None) or "")
        if codenames is None:
            raise exceptions.PermissionDenied()
        principal.require(workspace, *codenames)
        self._workspace = workspace
        return workspace

    @property
    def reach(self) -> Reach:
        """The requester's reach in the URL's workspace (``secretvault.access``), built on first use."""
        return request_principal(self.request).reach(self.get_workspace())

    def paginated(self, queryset: QuerySet, serializer_class: Any, **context: Any) -> Response:
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return self.get_paginated_response(data)

    def validated(self, serializer_class: Any, **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def _matches(validator: Any, value: str) -> bool:
    try:
        validator(value)
    except DjangoValidationError:
        return False
    return True


def _query_env(request: Any) -> str | None:
    """The ``env`` query parameter: ``None`` when absent or empty, 400 when not a slug."""
    env = request.query_params.get("env") or None
    if env is not None and not _matches(validate_slug, env):
        raise exceptions.ValidationError({"env": ["Not a valid environment slug."]})
    return env


def _check_env_exists(workspace: Workspace, env: str) -> None:
    if not Environment.objects.filter(workspace=workspace, slug=env).exists():
        _no_such_env(workspace, env)


def _no_such_env(workspace: Workspace, env: str) -> None:
    raise exceptions.ValidationError({"env": [f"Workspace {workspace.slug!r} has no environment {env!r}."]})


def envs_prefetch() -> Prefetch:
    return Prefetch("envs", queryset=Environment.objects.order_by("slug"))


# ----------------------------------------------------------------------------------
# Workspaces (+ stats and load)


@extend_schema(tags=["workspaces"])
class WorkspaceViewSet(VaultAPIView):
    """Workspaces. People with ``view_workspace`` see all; a token sees its own."""

    lookup_field = "slug"
    lookup_url_kwarg = "ws"
    serializer_class = WorkspaceSerializer
    queryset = Workspace.objects.all()
    required_permissions = {
        "list": ["view_workspace"],
        "retrieve": ["view_workspace"],
        "create": ["add_workspace"],
        "stats": ["view_secret"],
        "load": ["view_secret", "reveal_secret"],
    }

    def get_queryset(self) -> QuerySet[Workspace]:
        """The workspaces the requester may view: all, a token's own, or a person's memberships."""
        principal = request_principal(self.request)
        return principal.filter_workspaces(Workspace.objects.order_by("slug"), "view_workspace")

    @document(
        summary="List the workspaces",
        description="People with view_workspace see all; a service token sees its own.",
        responses=responses(WorkspaceSerializer(many=True), 400, 404),
    )
    def list(self, request: Any) -> Response:
        if request_principal(request).workspace_ids("view_workspace") == set():
            raise exceptions.PermissionDenied()
        return self.paginated(self.get_queryset(), WorkspaceSerializer)

    @document(
        summary="Create a workspace",
        request=WorkspaceCreateSerializer,
        responses=responses(WorkspaceSerializer, 400, 413, 409, 503, status=201),
    )
    def create(self, request: Any) -> Response:
        request_principal(request).require_global("add_workspace")
        data = self.validated(WorkspaceCreateSerializer)
        workspace = services.create_workspace(slug=data["slug"], name=data["name"], actor=self.actor())
        return Response(WorkspaceSerializer(workspace).data, status=status.HTTP_201_CREATED)

    @document(summary="One workspace", responses=responses(WorkspaceSerializer, 404))
    def retrieve(self, request: Any, ws: str) -> Response:
        return Response(WorkspaceSerializer(self.get_workspace()).data)

    @document(
        summary="Secret counts of the workspace",
        description="total, active, expired, expiring_soon and revoked. A token counts the "
        "secrets it can see.",
        responses=responses(StatsSerializer, 404),
    )
    @action(detail=True, methods=["get"])
    def stats(self, request: Any, ws: str) -> Response:
        workspace = self.get_workspace()
        counts = self.reach.filter_secrets(Secret.objects.filter(workspace=workspace)).counts()
        return Response({"workspace": workspace.slug, **counts})

    @document(
        summary="Load the resolved secrets map",
        description=(
            "The `{KEY: value}` map a service sees, in one round trip: active secrets serving "
            "`env` (an environment-specific secret overrides the global one of its key) and "
            "visible to `scope`. Without `env`, global secrets only, except that a token "
            "restricted to one environment gets that environment. A token restricted to some "
            "environments or scope tags gets 403 for others, and its own scope tags by "
            "default. The strong `ETag` covers the secrets' identities and versions: send it "
            "back as `If-None-Match` to get 304 without any decryption. Audited as "
            "`secrets.load` (key names and versions, never values)."
        ),
        parameters=[
            OpenApiParameter(
                "env",
                str,
                OpenApiParameter.QUERY,
                pattern=api_schema.PATH_PARAMETERS["slug"][0],
                description="Environment slug.",
            ),
            OpenApiParameter(
                "scope",
                api_schema.SCOPE_LIST,
                OpenApiParameter.QUERY,
                style="form",
                explode=False,
                description="Scope tag(s), comma-separated: secrets tagged with any of them, "
                "and unscoped ones.",
            ),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="An ETag."),
            api_schema.ETAG,
            api_schema.no_store(200, 304),
        ],
        responses={
            **responses(
                OpenApiResponse(
                    LoadSerializer,
                    description="The resolved map (Cache-Control: no-store; ETag).",
                ),
                304,
                400,
                404,
                503,
            )
        },
    )
    @action(detail=True, methods=["get"])
    @sensitive_variables()
    def load(self, request: Any, ws: str) -> Response:
        workspace = self.get_workspace()
        env = _query_env(request)
        scope = _query_scope(request)
        principal = request_principal(request)
        now = timezone.now()
        # One query answers the revalidation: revision, expiry, env existence, the token's envs.
        state = services.load_state(workspace, env=env, token=principal.token, now=now)
        principal.know_token_envs(state.token_env_slugs)
        reach = self.reach
        named = env
        env, target_scope = services.target_within(reach, env, scope)
        if named is not None and not reach.env_restricted("reveal_secret") and not state.env_exists:
            _no_such_env(workspace, named)

        label = Actor.from_request(request, with_address=False).label
        etag = f'"{services.load_etag(workspace, state, env=env, scope=target_scope, principal=label)}"'
        headers = {"ETag": etag, **NO_STORE}
        if _etag_matches(request, etag):
            # No value leaves: nothing to decrypt, nothing read to audit (docs/api.md).
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        actor = self.actor()
        resolved = Secret.objects.resolve(workspace, env=env, scope=target_scope or None, now=now)
        values = services.decrypt_resolved(workspace, resolved)
        services.record_load(workspace, resolved, env=env, actor=actor)
        return Response({"workspace": workspace.slug, "env": env, "secrets": values}, headers=headers)


def _query_scope(request: Any) -> list[str]:
    # Tags are refused, never trimmed: "web\n" is a 400, not "web" (SPEC §8).
    tags = [tag for raw in request.query_params.getlist("scope") for tag in raw.split(",")]
    tags = [tag for tag in tags if tag]
    try:
        return validate_scope(tags)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"scope": exc.messages}) from None


def _etag_matches(request: Any, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    candidates = parse_etags(header)
    if "*" in candidates:
        return True
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    return any(candidate.removeprefix("W/") == etag for candidate in candidates)


# ----------------------------------------------------------------------------------
# Environments


@extend_schema(tags=["environments"])
@document_view(
    list=dict(
        summary="List the environments",
        responses=responses(EnvironmentSerializer(many=True), 400, 404),
    ),
    create=dict(
        summary="Create an environment",
        request=EnvironmentWriteSerializer,
        responses=responses(EnvironmentSerializer, 400, 413, 404, 409, status=201),
    ),
    retrieve=dict(summary="One environment", responses=responses(EnvironmentSerializer, 404)),
    partial_update=dict(
        summary="Change an environment's slug or name",
        request=EnvironmentWriteSerializer,
        responses=responses(EnvironmentSerializer, 400, 413, 404, 409),
    ),
    destroy=dict(
        summary="Delete an environment",
        description="Refused (409) while a secret or token names the environment.",
        responses=responses(None, 404, 409, status=204),
    ),
)
class EnvironmentViewSet(VaultAPIView):
    """Environments of a workspace. Tokens read the ones they reach; people manage them."""

    lookup_field = "slug"
    lookup_url_kwarg = "slug"
    serializer_class = EnvironmentSerializer
    queryset = Environment.objects.all()
    http_method_names = ["get", "post", "patch", "delete", "head"]
    required_permissions = {
        "list": ["view_environment"],
        "retrieve": ["view_environment"],
        "create": ["add_environment"],
        "partial_update": ["change_environment"],
        "destroy": ["delete_environment"],
    }

    def get_queryset(self) -> QuerySet[Environment]:
        qs = Environment.objects.filter(workspace=self.get_workspace()).order_by("slug")
        return self.reach.filter_environments(qs)

    def get_object(self) -> Environment:
        workspace = self.get_workspace()
        slug = self.kwargs["slug"]
        if not _matches(validate_slug, slug):
            raise exceptions.NotFound()
        env = Environment.objects.filter(workspace=workspace, slug=slug).select_related("workspace").first()
        codename = self.required_permissions[self.action][0]
        if env is None or not self.reach.sees_environment(env.slug, codename):
            raise exceptions.NotFound()
        return env

    def list(self, request: Any, ws: str) -> Response:
        return self.paginated(self.get_queryset(), EnvironmentSerializer)

    def create(self, request: Any, ws: str) -> Response:
        workspace = self.get_workspace()
        data = self.validated(EnvironmentWriteSerializer)
        env = services.create_environment(workspace, slug=data["slug"], name=data["name"], actor=self.actor())
        return Response(EnvironmentSerializer(env).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Any, ws: str, slug: str) -> Response:
        return Response(EnvironmentSerializer(self.get_object()).data)

    def partial_update(self, request: Any, ws: str, slug: str) -> Response:
        env = self.get_object()
        data = self.validated(EnvironmentWriteSerializer, partial=True)
        services.update_environment(env, **data, actor=self.actor())
        return Response(EnvironmentSerializer(env).data)

    def destroy(self, request: Any, ws: str, slug: str) -> Response:
        services.delete_environment(self.get_object(), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


# ----------------------------------------------------------------------------------
# Secrets

_WRITE_DOC = (
    "Writable fields: key, value, description, token_type, scope, envs, expires_at. "
    "Unknown and read-only fields (id, workspace, version, ...) are refused with 400. "
)


@extend_schema(tags=["secrets"])
@document_view(
    list=dict(
        summary="List the secrets (metadata)",
        description="Metadata of the workspace's secrets (never values), paginated.",
        responses=responses(SecretSerializer(many=True), 400, 404),
    ),
    create=dict(
        summary="Create a secret",
        description=_WRITE_DOC + "Answers 201 with the metadata (no value). 409 when "
        "another secret of the key serves one of the environments.",
        request=SecretCreateSerializer,
        responses=responses(SecretSerializer, 400, 413, 404, 409, 503, status=201),
    ),
    retrieve=dict(
        summary="One secret's metadata",
        parameters=[ENV_PARAMETER],
        responses=responses(SecretSerializer, 400, 404),
    ),
    update=dict(
        summary="Replace a secret's metadata (and value)",
        description=_WRITE_DOC + "PUT replaces the metadata: a missing description, "
        "token_type, scope, envs or expires_at resets to its default (empty, global, no "
        "expiry). `value` is optional: absent keeps the current value; a different one "
        "writes a new version. `key` cannot change. `expected_version` makes it a "
        "check-and-set (409 on mismatch).",
        parameters=[ENV_PARAMETER],
        request=SecretUpdateSerializer,
        responses=responses(SecretSerializer, 400, 413, 404, 409, 503),
    ),
    partial_update=dict(
        summary="Change a secret",
        description=_WRITE_DOC + "PATCH changes only the fields given. A `value` "
        "different from the current one writes one new version. `expected_version` makes "
        "it a check-and-set (409 on mismatch).",
        parameters=[ENV_PARAMETER],
        request=SecretUpdateSerializer,
        responses=responses(SecretSerializer, 400, 413, 404, 409, 503),
    ),
    destroy=dict(
        summary="Delete a secret and all its versions",
        description="Deletes the secret and all its versions, for good.",
        parameters=[ENV_PARAMETER],
        responses=responses(None, 400, 404, status=204),
    ),
)
@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class SecretViewSet(VaultAPIView):
    """Secrets of a workspace. ``?env=`` on a ``{key}`` route picks among same-key secrets."""

    lookup_field = "key"
    lookup_url_kwarg = "key"
    serializer_class = SecretSerializer
    queryset = Secret.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = SecretFilterSet
    required_permissions = {
        "list": ["view_secret"],
        "retrieve": ["view_secret"],
        "versions": ["view_secret"],
        "create": ["add_secret"],
        "update": ["change_secret"],
        "partial_update": ["change_secret"],
        "destroy": ["delete_secret"],
        "reveal": ["view_secret", "reveal_secret"],
        "rollback": ["change_secret", "rollback_secret"],
        "revoke": ["change_secret"],
        "restore": ["change_secret"],
    }

    def get_queryset(self) -> QuerySet[Secret]:
        qs = (
            Secret.objects.filter(workspace=self.get_workspace()).select_related("workspace").with_env_slugs()
        )
        return self.reach.filter_secrets(qs).order_by("key", "created_at", "pk")

    def get_object(self) -> Secret:
        """The secret a ``{key}`` route names (services.find_secret), checked against the requester."""
        workspace = self.get_workspace()
        key = self.kwargs["key"]
        if not _matches(validate_key, key):
            raise exceptions.NotFound()
        env = _query_env(self.request)
        reach = self.reach
        if env is not None:
            if reach.env_restricted():
                reach.check_env(env)
            else:
                _check_env_exists(workspace, env)
        else:
            env = reach.default_env()
        try:
            # Among the secrets the requester sees: an invisible one changes no answer.
            secret = services.find_secret(workspace, key, env, actor=self.actor())
        except Secret.DoesNotExist:
            raise exceptions.NotFound() from None
        prefetch_related_objects([secret], envs_prefetch())
        reach.check_secret(secret, *self.required_permissions[self.action])
        return secret

    def serialize(self, secret: Secret) -> dict[str, Any]:
        if not hasattr(secret, "_prefetched_objects_cache") or "envs" not in secret._prefetched_objects_cache:
            prefetch_related_objects([secret], envs_prefetch())
        return SecretSerializer(secret, context={"request": self.request}).data

    def list(self, request: Any, ws: str) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        return self.paginated(queryset, SecretSerializer, now=timezone.now())

    @sensitive_variables()
    def create(self, request: Any, ws: str) -> Response:
        workspace = self.get_workspace()
        data = self.validated(SecretCreateSerializer)
        secret = services.create_secret(workspace, **data, actor=self.actor())
        return Response(self.serialize(secret), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Any, ws: str, key: str) -> Response:
        return Response(self.serialize(self.get_object()))

    @sensitive_variables()
    def update(self, request: Any, ws: str, key: str, partial: bool = False) -> Response:
        secret = self.get_object()
        data = self.validated(SecretUpdateSerializer, partial=partial)
        new_key = data.pop("key", None)
        if new_key is not None and new_key != secret.key:
            raise exceptions.ValidationError(
                {"key": ["The key of a secret cannot change; create a new secret instead."]}
            )
        expected_version = data.pop("expected_version", None)
        services.update_secret(secret, **data, expected_version=expected_version, actor=self.actor())
        return Response(self.serialize(secret))

    @sensitive_variables()
    def partial_update(self, request: Any, ws: str, key: str) -> Response:
        return self.update(request, ws, key, partial=True)

    def destroy(self, request: Any, ws: str, key: str) -> Response:
        services.delete_secret(self.get_object(), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @document(
        summary="Reveal the current value",
        description="Metadata plus `value`. Audited as `secret.reveal`. A token can reveal only "
        "active (unrevoked, unexpired) secrets it can see.",
        parameters=[ENV_PARAMETER, api_schema.no_store(200)],
        responses=responses(SecretRevealSerializer, 400, 404, 503),
    )
    @action(detail=True, methods=["get"])
    @sensitive_variables()
    def reveal(self, request: Any, ws: str, key: str) -> Response:
        secret = self.get_object()
        if self.reach.token is not None and not secret.is_active():
            raise exceptions.PermissionDenied("This secret is revoked or expired; it is not served.")
        value = services.reveal(secret, actor=self.actor())
        data = self.serialize(secret)
        data["value"] = value
        return Response(data, headers=NO_STORE)

    @document(
        summary="Versions of the secret, newest first",
        description="Metadata of each version kept (never values), paginated.",
        parameters=[ENV_PARAMETER],
        responses=responses(SecretVersionSerializer(many=True), 400, 404),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request: Any, ws: str, key: str) -> Response:
        secret = self.get_object()
        versions = (
            SecretVersion.objects.filter(secret=secret)
            .select_related("created_by", "created_by_token")
            .defer("ciphertext")
            .order_by("-version")
        )
        return self.paginated(versions, SecretVersionSerializer)

    @document(
        summary="Roll back to an earlier version",
        description="Writes version latest+1 holding version `version`'s value "
        "(source_version = version). 400 when that version does not exist (or was pruned); "
        "409 when `expected_version` is given and is no longer the current version.",
        parameters=[ENV_PARAMETER],
        request=RollbackSerializer,
        responses=responses(SecretSerializer, 400, 413, 404, 409, 503),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    @sensitive_variables()
    def rollback(self, request: Any, ws: str, key: str) -> Response:
        secret = self.get_object()
        data = self.validated(RollbackSerializer)
        services.rollback(
            secret, data["version"], actor=self.actor(), expected_version=data.get("expected_version")
        )
        return Response(self.serialize(secret))

    @document(
        summary="Revoke (disable without deleting)",
        description="Idempotent. A revoked secret is no longer loaded by services.",
        parameters=[ENV_PARAMETER],
        request=NoFieldsSerializer,
        responses=responses(SecretSerializer, 400, 413, 404),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def revoke(self, request: Any, ws: str, key: str) -> Response:
        secret = self.get_object()
        self.validated(NoFieldsSerializer)
        services.revoke_secret(secret, actor=self.actor())
        secret.refresh_from_db(fields=["revoked_at", "updated_at"])
        return Response(self.serialize(secret))

    @document(
        summary="Restore a revoked secret",
        description="Idempotent.",
        parameters=[ENV_PARAMETER],
        request=NoFieldsSerializer,
        responses=responses(SecretSerializer, 400, 413, 404),
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def restore(self, request: Any, ws: str, key: str) -> Response:
        secret = self.get_object()
        self.validated(NoFieldsSerializer)
        services.restore_secret(secret, actor=self.actor())
        secret.refresh_from_db(fields=["revoked_at", "updated_at"])
        return Response(self.serialize(secret))


__all__ = [
    "EnvironmentViewSet",
    "SecretViewSet",
    "VaultAPIView",
    "VaultPagination",
    "WorkspaceViewSet",
    "translate_exception",
]


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Every path under the API's prefix that no route matches: a JSON 404, like the rest."""
    detail = "Not found."
    if not request.path.endswith("/"):
        detail += " API paths end with a slash."
    return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)
