"""Service tokens in the admin: created (the raw token shown once), viewed and revoked; never edited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from secretvault import services
from secretvault.admin.base import (
    EnvironmentFilter,
    ServiceFormAdmin,
    StateFilter,
    expiry_cell,
    no_store,
    state_badge,
)
from secretvault.forms import ServiceTokenForm
from secretvault.models import ServiceToken
from secretvault.redaction import Concealed

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups


@admin.register(ServiceToken)
class ServiceTokenAdmin(ServiceFormAdmin):
    """Tokens are created here (the raw token shown once), viewed, and revoked; never edited."""

    form = ServiceTokenForm
    list_display = [
        "token_id",
        "name",
        "workspace",
        "created_at",
        "last_used_at",
        "expiry",
        "status",
        "can_write",
    ]
    list_filter = ["workspace", EnvironmentFilter, StateFilter, "can_write"]
    list_select_related = ["workspace"]
    search_fields = ["token_id", "name", "description"]
    ordering = ["-created_at"]
    actions = ["revoke_selected"]
    view_fields = [
        "token_id",
        "workspace",
        "name",
        "description",
        "environment_list",
        "scope_list",
        "can_write",
        "expires_at",
        "status",
        "revoked_at",
        "last_used_at",
        "created_by",
        "created_at",
    ]

    # Template of the page that shows the raw token once; None = ``template_list()``.
    token_created_template: str | None = None

    class Media:
        css = {"all": ["secretvault/admin.css"]}

    def has_change_permission(self, request: HttpRequest, obj: ServiceToken | None = None) -> bool:
        # A token's reach is fixed at creation, and a revoked token stays revoked: nothing to edit.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ServiceToken | None = None) -> bool:
        # Revoke instead: the token keeps the versions and audit events it wrote attributable.
        return False

    def has_revoke_permission(self, request: HttpRequest, obj: ServiceToken | None = None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.revoke_servicetoken")

    def get_fields(self, request: HttpRequest, obj: ServiceToken | None = None) -> _FieldGroups:
        if obj is None:
            return ["workspace", "name", "description", "environments", "scope", "can_write", "expires_at"]
        return list(self.view_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: ServiceToken | None = None) -> list[str]:
        return [] if obj is None else list(self.view_fields)

    @admin.display(description=_("environments"))
    def environment_list(self, obj: ServiceToken) -> str:
        return ", ".join(obj.env_slugs()) or str(_("(all)"))

    @admin.display(description=_("scope"))
    def scope_list(self, obj: ServiceToken) -> str:
        return ", ".join(obj.scope) or str(_("(all apps)"))

    @admin.display(description=_("expires"), ordering="expires_at")
    def expiry(self, obj: ServiceToken) -> str:
        return expiry_cell(obj)

    @admin.display(description=_("status"))
    def status(self, obj: ServiceToken) -> str:
        return state_badge(obj)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[ServiceToken]:
        return super().get_queryset(request).select_related("workspace", "created_by")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        # Saving always leads to the one page that shows the raw token; no other buttons.
        extra_context = {
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: ServiceToken, form: Any, change: bool) -> None:
        # The raw token travels to response_add on the instance, for this request only.
        obj._raw_token_once = form.raw_token  # type: ignore[attr-defined]

    @sensitive_variables("raw")
    def response_add(
        self, request: HttpRequest, obj: ServiceToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = obj.__dict__.pop("_raw_token_once", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        response = self.render_view(
            request,
            self.token_created_template or self.template_list("token_created.html"),
            obj,
            title=_("Service token created"),
            raw_token=Concealed(raw),
            token_url=self.admin_url("change", obj.pk),
            changelist_url=self.admin_url("changelist"),
            add_url=self.admin_url("add"),
        )
        return no_store(response)

    @admin.action(permissions=["revoke"], description=_("Revoke selected tokens"))
    def revoke_selected(self, request: HttpRequest, queryset: models.QuerySet[ServiceToken]) -> None:
        actor = self.actor(request)
        changed = 0
        total = 0
        for token in queryset.select_related("workspace"):
            total += 1
            if services.revoke_token(token, actor=actor):
                changed += 1
                self.log_change(request, token, "Revoked.")
        text = ngettext("Revoked %(count)d service token.", "Revoked %(count)d service tokens.", changed) % {
            "count": changed
        }
        if total - changed:
            text += " " + ngettext(
                "%(count)d was already revoked.", "%(count)d were already revoked.", total - changed
            ) % {"count": total - changed}
        self.message_user(request, text, messages.SUCCESS if changed else messages.WARNING)
