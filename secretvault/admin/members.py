"""Workspace members in the admin (SPEC §9): listed on the workspace page, managed here.

Every change goes through ``secretvault.members`` (audited, no escalation): the form's
last validation step calls it, as the other forms of ``secretvault.forms`` do.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from secretvault import access, members
from secretvault.admin.base import WorkspaceFirstAdmin
from secretvault.forms import EnvironmentChoiceField, ServiceModelForm, limit_to_workspace, workspace_of
from secretvault.models import Environment, WorkspaceMember


class WorkspaceMemberForm(ServiceModelForm):
    """Names the user by username and the group by name, as the API and the CLI do (SPEC §9).

    Typed, not picked from a list: a workspace admin is not shown every account of the site.
    """

    environments = EnvironmentChoiceField(
        queryset=Environment.objects.none(),
        label=_("Environments"),
        help_text=_("Environments the role applies to; none = all. Admins always reach all."),
    )

    class Meta:
        model = WorkspaceMember
        fields = ["workspace", "user", "group", "role", "environments"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_model = get_user_model()
        if "user" in self.fields:
            self.fields["user"] = forms.ModelChoiceField(
                queryset=user_model._default_manager.all(),
                to_field_name=user_model.USERNAME_FIELD,
                required=False,
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
                label=_("User"),
                help_text=_("Their username. Name a user or a group, not both."),
                error_messages={"invalid_choice": _("There is no user with that username.")},
            )
        if "group" in self.fields:
            self.fields["group"] = forms.ModelChoiceField(
                queryset=Group.objects.all(),
                to_field_name="name",
                required=False,
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
                label=_("Group"),
                help_text=_("The group's name."),
                error_messages={"invalid_choice": _("There is no group with that name.")},
            )
        limit_to_workspace(self, workspace_of(self))
        if not self.adding:
            self.initial["environments"] = [env.pk for env in self.instance.envs.all()]

    def write(self) -> WorkspaceMember:
        data = self.cleaned_data
        envs = sorted(env.slug for env in data.get("environments") or [])
        if self.adding:
            return members.add_member(
                data["workspace"],
                user=data.get("user"),
                group=data.get("group"),
                role=data["role"],
                envs=envs,
                actor=self.actor,
            )
        member = WorkspaceMember.objects.select_related("workspace").get(pk=self.instance.pk)
        return members.update_member(member, role=data["role"], envs=envs, actor=self.actor)


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(WorkspaceFirstAdmin):
    form = WorkspaceMemberForm
    list_display = ["principal_label", "workspace", "role", "environment_list", "created_at", "created_by"]
    list_filter = ["workspace", "role"]
    list_select_related = ["workspace", "user", "group", "created_by"]
    search_fields = ["user__username", "group__name", "workspace__slug"]
    ordering = ["workspace__slug", "created_at"]
    environments_codename = {"add": "add_workspacemember", "change": "change_workspacemember"}

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[WorkspaceMember]:
        return super().get_queryset(request).prefetch_related("envs")

    def get_readonly_fields(self, request: HttpRequest, obj: WorkspaceMember | None = None) -> list[str]:
        return [] if obj is None else ["workspace", "user", "group"]

    @admin.display(description=_("member"))
    def principal_label(self, obj: WorkspaceMember) -> str:
        return obj.principal_label

    @admin.display(description=_("environments"))
    def environment_list(self, obj: WorkspaceMember) -> str:
        return ", ".join(obj.env_slugs()) or str(_("(all)"))

    def delete_model(self, request: HttpRequest, obj: WorkspaceMember) -> None:
        members.remove_member(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[WorkspaceMember]) -> None:
        actor = self.actor(request)
        for member in queryset.select_related("workspace"):
            members.remove_member(member, actor=actor)


class WorkspaceMemberInline(admin.TabularInline):
    """The members of a workspace, on its page (read-only; each links to its own page)."""

    model = WorkspaceMember
    fk_name = "workspace"
    extra = 0
    can_delete = False
    fields = ("member_link", "role", "environment_list", "created_at")
    readonly_fields = fields
    verbose_name_plural = _("members")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[WorkspaceMember]:
        return super().get_queryset(request).select_related("user", "group").prefetch_related("envs")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:  # asked so by the queryset; the page asks again with its workspace
            return access.principal_for_user(request.user).workspace_ids("view_workspacemember") != set()
        return request.user.has_perm("secretvault.view_workspacemember", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("member"))
    def member_link(self, obj: WorkspaceMember) -> str:
        from django.urls import reverse

        url = reverse("admin:secretvault_workspacemember_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.principal_label)

    @admin.display(description=_("environments"))
    def environment_list(self, obj: WorkspaceMember) -> str:
        return ", ".join(obj.env_slugs()) or str(_("(all)"))


__all__ = ["WorkspaceMemberAdmin", "WorkspaceMemberForm", "WorkspaceMemberInline"]
