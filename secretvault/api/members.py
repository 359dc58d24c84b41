"""Workspace members through the API (SPEC §9): ``/api/v1/workspaces/{ws}/members/``.

Managed by people holding the ``*_workspacemember`` permissions there (a workspace
``admin``, or global model permissions); service tokens get 403. Every write goes
through ``secretvault.members``, which refuses to grant more than the requester holds.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from secretvault import members
from secretvault.api.schema import document_view, responses
from secretvault.api.serializers import StrictCharField, StrictSerializer, slug_list
from secretvault.api.views import VaultAPIView
from secretvault.models import Environment, MemberRole, WorkspaceMember


class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    user = serializers.SerializerMethodField()
    group = serializers.SerializerMethodField()
    role = serializers.CharField(read_only=True)
    envs = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.SerializerMethodField()

    def get_user(self, obj: WorkspaceMember) -> str | None:
        return obj.user.get_username() if obj.user is not None else None

    def get_group(self, obj: WorkspaceMember) -> str | None:
        return obj.group.name if obj.group is not None else None

    def get_envs(self, obj: WorkspaceMember) -> list[str]:
        return obj.env_slugs()

    def get_created_by(self, obj: WorkspaceMember) -> str | None:
        return obj.created_by.get_username() if obj.created_by is not None else None


class MemberCreateSerializer(StrictSerializer):
    user = StrictCharField(required=False, max_length=150)
    group = StrictCharField(required=False, max_length=150)
    role = serializers.ChoiceField(choices=MemberRole.choices)
    envs = slug_list(required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("user" in attrs) == ("group" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of 'user' or 'group'."]}
            )
        if "user" in attrs:
            user_model = get_user_model()
            found = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: attrs["user"]}).first()
            if found is None:
                raise serializers.ValidationError({"user": ["No such user."]})
            attrs["user"] = found
        else:
            group = Group.objects.filter(name=attrs["group"]).first()
            if group is None:
                raise serializers.ValidationError({"group": ["No such group."]})
            attrs["group"] = group
        return attrs


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=MemberRole.choices, required=False)
    envs = slug_list(required=False)


@extend_schema(tags=["members"])
@document_view(
    list=dict(
        summary="List the workspace's members",
        description="People with view_workspacemember there (a workspace admin); tokens get 403.",
        responses=responses(MemberSerializer(many=True), 400, 404),
    ),
    create=dict(
        summary="Add a member",
        description="`user` (a username) or `group` (a name), `role`, `envs` (empty: every "
        "environment; must be empty for `admin`). 403 when the role reaches beyond the "
        "requester's own access; 409 when already a member. Audited as `member.add`.",
        request=MemberCreateSerializer,
        responses=responses(MemberSerializer, 400, 413, 404, 409, status=201),
    ),
    retrieve=dict(summary="One member", responses=responses(MemberSerializer, 404)),
    partial_update=dict(
        summary="Change a member's role or environments",
        description="Audited as `member.change`; 403 when the old or the new role reaches beyond "
        "the requester's own access.",
        request=MemberUpdateSerializer,
        responses=responses(MemberSerializer, 400, 413, 404),
    ),
    destroy=dict(
        summary="Remove a member",
        description="Audited as `member.remove`.",
        responses=responses(None, 404, status=204),
    ),
)
class MemberViewSet(VaultAPIView):
    """Members of a workspace: who (a user or a group) holds which role in which environments."""

    lookup_field = "pk"
    lookup_url_kwarg = "member_id"
    serializer_class = MemberSerializer
    queryset = WorkspaceMember.objects.all()
    http_method_names = ["get", "post", "patch", "delete", "head"]
    required_permissions = {
        "list": ["view_workspacemember"],
        "retrieve": ["view_workspacemember"],
        "create": ["add_workspacemember"],
        "partial_update": ["change_workspacemember"],
        "destroy": ["delete_workspacemember"],
    }

    def get_queryset(self) -> QuerySet[WorkspaceMember]:
        return (
            WorkspaceMember.objects.filter(workspace=self.get_workspace())
            .select_related("workspace", "user", "group", "created_by")
            .prefetch_related(Prefetch("envs", queryset=Environment.objects.order_by("slug")))
            .order_by("created_at", "pk")
        )

    def get_object(self) -> WorkspaceMember:
        try:
            pk = uuid.UUID(str(self.kwargs["member_id"]))
        except ValueError:
            raise exceptions.NotFound() from None
        member = self.get_queryset().filter(pk=pk).first()
        if member is None:
            raise exceptions.NotFound()
        return member

    def list(self, request: Any, ws: str) -> Response:
        return self.paginated(self.get_queryset(), MemberSerializer)

    def create(self, request: Any, ws: str) -> Response:
        data = self.validated(MemberCreateSerializer)
        member = members.add_member(self.get_workspace(), **data, actor=self.actor())
        return Response(MemberSerializer(self._reload(member)).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Any, ws: str, member_id: str) -> Response:
        return Response(MemberSerializer(self.get_object()).data)

    def partial_update(self, request: Any, ws: str, member_id: str) -> Response:
        member = self.get_object()
        data = self.validated(MemberUpdateSerializer)
        members.update_member(member, **data, actor=self.actor())
        return Response(MemberSerializer(self._reload(member)).data)

    def destroy(self, request: Any, ws: str, member_id: str) -> Response:
        members.remove_member(self.get_object(), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _reload(self, member: WorkspaceMember) -> WorkspaceMember:
        return self.get_queryset().get(pk=member.pk)
