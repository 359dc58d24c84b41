"""Service tokens over the API (SPEC §3): list, create (the raw token shown once), revoke.

People only: a service token never manages tokens (every route answers it 403). Minting
goes through ``services.create_token``, which bounds a new token by its creator's own
reach (``secretvault.access``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.query import prefetch_related_objects
from django.views.decorators.debug import sensitive_variables
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from secretvault import services
from secretvault.api import schema as api_schema
from secretvault.api.filters import ServiceTokenFilterSet
from secretvault.api.schema import document, document_view, responses
from secretvault.api.serializers import (
    NoFieldsSerializer,
    ServiceTokenCreatedSerializer,
    ServiceTokenCreateSerializer,
    ServiceTokenSerializer,
)
from secretvault.api.views import NO_STORE, VaultAPIView, envs_prefetch
from secretvault.models import ServiceToken


@extend_schema(tags=["tokens"])
@document_view(
    list=dict(
        summary="List the service tokens",
        description="People with view_servicetoken only; service tokens get 403.",
        responses=responses(ServiceTokenSerializer(many=True), 400, 404),
    ),
    create=dict(
        summary="Create a service token",
        description="Answers 201 with the raw `token`, shown this once (only its digest is kept).",
        parameters=[api_schema.no_store(201)],
        request=ServiceTokenCreateSerializer,
        responses=responses(ServiceTokenCreatedSerializer, 400, 413, 404, status=201),
    ),
    retrieve=dict(summary="One service token", responses=responses(ServiceTokenSerializer, 404)),
)
class ServiceTokenViewSet(VaultAPIView):
    """Service tokens of a workspace. Managed by people only: every route is 403 for tokens."""

    lookup_field = "token_id"
    lookup_url_kwarg = "token_id"
    serializer_class = ServiceTokenSerializer
    queryset = ServiceToken.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = ServiceTokenFilterSet
    required_permissions = {
        "list": ["view_servicetoken"],
        "retrieve": ["view_servicetoken"],
        "create": ["add_servicetoken"],
        "revoke": ["revoke_servicetoken"],
    }

    def get_queryset(self) -> QuerySet[ServiceToken]:
        return (
            ServiceToken.objects.filter(workspace=self.get_workspace())
            .prefetch_related(envs_prefetch())
            .order_by("-created_at", "pk")
        )

    def get_object(self) -> ServiceToken:
        token_id = self.kwargs["token_id"]
        if not isinstance(token_id, str) or len(token_id) != 16 or token_id.strip("0123456789abcdef"):
            raise exceptions.NotFound()
        token = self.get_queryset().filter(token_id=token_id).first()
        if token is None:
            raise exceptions.NotFound()
        return token

    def list(self, request: Any, ws: str) -> Response:
        return self.paginated(self.filter_queryset(self.get_queryset()), ServiceTokenSerializer)

    @sensitive_variables("raw", "body")
    def create(self, request: Any, ws: str) -> Response:
        workspace = self.get_workspace()
        data = self.validated(ServiceTokenCreateSerializer)
        token, raw = services.create_token(workspace, **data, actor=self.actor())
        prefetch_related_objects([token], envs_prefetch())
        body = ServiceTokenSerializer(token).data
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)

    def retrieve(self, request: Any, ws: str, token_id: str) -> Response:
        return Response(ServiceTokenSerializer(self.get_object()).data)

    @document(
        summary="Revoke the token, at once and for good",
        description="Idempotent.",
        request=NoFieldsSerializer,
        responses=responses(ServiceTokenSerializer, 400, 413, 404),
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Any, ws: str, token_id: str) -> Response:
        token = self.get_object()
        self.validated(NoFieldsSerializer)
        services.revoke_token(token, actor=self.actor())
        return Response(ServiceTokenSerializer(token).data)
