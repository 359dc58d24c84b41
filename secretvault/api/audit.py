"""The audit trail over the API (SPEC §3): a workspace's events, newest first, never a value."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from secretvault.api.filters import AuditEventFilterSet
from secretvault.api.schema import document_view, responses
from secretvault.api.serializers import AuditEventSerializer
from secretvault.api.views import VaultAPIView
from secretvault.models import AuditEvent


@extend_schema(tags=["audit"])
@document_view(
    list=dict(
        summary="The audit trail",
        description="The workspace's audit trail, newest first. Never holds a value. People "
        "with view_auditevent only; service tokens get 403.",
        responses=responses(AuditEventSerializer(many=True), 400, 404),
    ),
)
class AuditEventViewSet(VaultAPIView):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEventFilterSet
    required_permissions = {"list": ["view_auditevent"]}

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(workspace=self.get_workspace()).order_by("-created_at", "-sequence")

    def list(self, request: Any, ws: str) -> Response:
        return self.paginated(self.filter_queryset(self.get_queryset()), AuditEventSerializer)
