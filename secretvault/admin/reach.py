"""The admin's side of ``secretvault.access``: lists, filters, choices and permissions by reach.

Django's admin asks ``user.has_perm(perm)`` without an object, which only global model
permissions answer. ``ReachAdminMixin`` asks instead:

* without an object, whether the user holds the codename in *some* workspace (a global
  permission or a membership), so that members see the admin at all;
* with an object, ``user.has_perm(perm, obj)`` -- answered by
  ``secretvault.backends.WorkspacePermissionBackend`` from the same reach rule;
* change lists (and so autocomplete, bulk actions and delete pages) hold only rows of
  the workspaces and environments the user reaches; the workspace filter and the
  ``workspace`` choices of add forms offer only those; environment choices only the
  environments the user may write in (SPEC §9).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from secretvault import access
from secretvault.forms import workspace_of
from secretvault.models import Workspace


class ReachWorkspaceFilter(admin.RelatedFieldListFilter):
    """The ``workspace`` list filter, offering only the workspaces the user reaches."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        workspaces = access.principal_for_user(request.user).filter_workspaces(
            Workspace.objects.order_by("slug")
        )
        return [(workspace.pk, str(workspace)) for workspace in workspaces]

    def has_output(self) -> bool:
        # Django applies only the filters it shows, and shows none with a single choice: a
        # person reaching one workspace who asks for another (or a missing one) would get
        # their own rows instead of none. Asked for a workspace, the filter always applies.
        return super().has_output() or bool(self.lookup_val) or bool(self.lookup_val_isnull)


if TYPE_CHECKING:
    # The mixin's super() is the ModelAdmin it is mixed into: tell the type checker so.
    _MixinBase = admin.ModelAdmin
else:
    _MixinBase = object


class ReachAdminMixin(_MixinBase):
    """Permissions, querysets and choices of a secretvault ``ModelAdmin`` from the reach rule."""

    #: The codename whose environments bound the ``environments`` choices of the forms.
    environments_codename: dict[str, str] = {}

    def principal(self, request: HttpRequest) -> access.Principal:
        return access.principal_for_user(request.user)

    def codename(self, action: str) -> str:
        return get_permission_codename(action, self.opts)

    def holds(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        """``action`` on ``obj``, or (without one) in at least one workspace."""
        if obj is not None:
            return request.user.has_perm(f"{self.opts.app_label}.{self.codename(action)}", obj)
        return self.principal(request).workspace_ids(self.codename(action)) != set()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.holds(request, "view", obj) or self.holds(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.holds(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.holds(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.holds(request, "delete", obj)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return self.reach_queryset(request, super().get_queryset(request))

    def reach_queryset(self, request: HttpRequest, qs: models.QuerySet) -> models.QuerySet:
        """Rows of the workspaces where the user may view (or change) this model."""
        seen = self.principal(request).workspace_ids_any(self.codename("view"), self.codename("change"))
        return qs if seen is None else qs.filter(workspace__in=seen)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        return [("workspace", ReachWorkspaceFilter) if item == "workspace" else item for item in filters]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workspace" and db_field.related_model is Workspace:
            kwargs["queryset"] = self.principal(request).filter_workspaces(
                Workspace.objects.order_by("slug"), self.codename("add")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class: type[ModelForm] = super().get_form(request, obj, change, **kwargs)
        codename = self.environments_codename.get("change" if obj is not None else "add")
        if codename is None or "environments" not in form_class.base_fields:
            return form_class
        principal = self.principal(request)
        wanted: str = codename

        class ReachForm(form_class):  # type: ignore[valid-type,misc]  # a base known only at run time
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                field = self.fields.get("environments")
                if field is not None and getattr(field, "queryset", None) is not None:
                    field.queryset = principal.filter_environments(field.queryset, wanted)
                    workspace = workspace_of(self)
                    if workspace is not None and principal.reach(workspace).env_restricted(wanted):
                        # "None = every environment" is not theirs to choose (SPEC §9, Reach.check_write).
                        field.help_text = _(
                            "Pick one or more: you can write only in these environments, "
                            "so leaving them all unticked is refused."
                        )

        ReachForm.__name__ = form_class.__name__
        return ReachForm
