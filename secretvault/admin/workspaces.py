"""Workspaces and environments in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from secretvault import services
from secretvault.admin.base import (
    ProtectedDeleteMixin,
    ServiceFormAdmin,
    describe_references,
)
from secretvault.admin.members import WorkspaceMemberInline
from secretvault.forms import EnvironmentForm, WorkspaceForm
from secretvault.models import (
    Environment,
    Secret,
    ServiceToken,
    Workspace,
)

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups


@admin.register(Workspace)
class WorkspaceAdmin(ProtectedDeleteMixin, ServiceFormAdmin):
    """Workspaces are created here and then fixed: their slug is in every client's configuration."""

    form = WorkspaceForm
    list_display = ["slug", "name", "environment_list", "secret_count", "token_count", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = [
        "slug",
        "name",
        "environment_list",
        "secret_count",
        "token_count",
        "data_key_id",
        "master_key_id",
        "created_at",
        "updated_at",
    ]
    ordering = ["slug"]

    def get_inlines(self, request: HttpRequest, obj: Workspace | None) -> list[Any]:
        # The members, on the page of a workspace (read-only; managed on their own pages).
        return [WorkspaceMemberInline] if obj is not None else []

    def reach_queryset(self, request: HttpRequest, qs: models.QuerySet) -> models.QuerySet:
        return self.principal(request).filter_workspaces(qs)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.principal(request).is_unrestricted or request.user.has_perm("secretvault.add_workspace")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Workspace]:
        # The counts and environments of a row are what this user reaches (SPEC §9).
        principal = self.principal(request)
        environments = principal.filter_environments(Environment.objects.order_by("slug"))
        return principal.with_counts(super().get_queryset(request)).prefetch_related(
            models.Prefetch("environments", queryset=environments)
        )

    def get_fields(self, request: HttpRequest, obj: Workspace | None = None) -> _FieldGroups:
        if obj is None:
            return ["slug", "name"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list[str]:
        return [] if obj is None else list(self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        # Nothing to edit once created; the page stays viewable with the view permission.
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description=_("environments"))
    def environment_list(self, obj: Workspace) -> str:
        return ", ".join(env.slug for env in obj.environments.all()) or "—"

    @admin.display(description=_("secrets"), ordering="secret_count")
    def secret_count(self, obj: Workspace) -> int:
        return obj.secret_count  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description=_("tokens"), ordering="token_count")
    def token_count(self, obj: Workspace) -> int:
        return obj.token_count  # type: ignore[attr-defined]  # annotated by get_queryset

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            ids = [ws.pk for ws in objs]
            protected = describe_references(
                Secret.objects.filter(workspace__in=ids), ServiceToken.objects.filter(workspace__in=ids)
            )
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Workspace) -> None:
        services.delete_workspace(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Workspace]) -> None:
        actor = self.actor(request)
        for workspace in queryset:
            services.delete_workspace(workspace, actor=actor)


# --------------------------------------------------------------------------
# Environments


@admin.register(Environment)
class EnvironmentAdmin(ProtectedDeleteMixin, ServiceFormAdmin):
    form = EnvironmentForm
    list_display = ["slug", "name", "workspace", "created_at"]
    list_filter = ["workspace"]
    list_select_related = ["workspace"]
    search_fields = ["slug", "name", "workspace__slug"]
    ordering = ["workspace__slug", "slug"]

    def reach_queryset(self, request: HttpRequest, qs: models.QuerySet) -> models.QuerySet:
        principal = self.principal(request)
        return principal.filter_environments(qs, "view_environment") | principal.filter_environments(
            qs, "change_environment"
        )

    def get_fields(self, request: HttpRequest, obj: Environment | None = None) -> _FieldGroups:
        if obj is None:
            return ["workspace", "slug", "name"]
        return ["workspace", "slug", "name", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Environment | None = None) -> list[str]:
        return [] if obj is None else ["workspace", "created_at"]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            ids = [env.pk for env in objs]
            protected = describe_references(
                Secret.objects.filter(envs__in=ids).distinct(),
                ServiceToken.objects.filter(envs__in=ids).distinct(),
            )
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Environment) -> None:
        services.delete_environment(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Environment]) -> None:
        actor = self.actor(request)
        for env in queryset.select_related("workspace"):
            services.delete_environment(env, actor=actor)
