"""Service tokens in the admin: created (the raw token shown once), viewed and revoked; never edited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from secretvault import services
from secretvault.admin import once
from secretvault.admin.base import (
    EnvironmentFilter,
    StateFilter,
    WorkspaceFirstAdmin,
    expiry_cell,
    moment,
    no_store,
    state_badge,
)
from secretvault.forms import ServiceTokenForm
from secretvault.models import ServiceToken
from secretvault.redaction import Concealed

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups


TICKET_FIELD = "_token_form_ticket"


@admin.register(ServiceToken)
class ServiceTokenAdmin(WorkspaceFirstAdmin):
    """Tokens are created here (the raw token shown once), viewed, and revoked; never edited."""

    form = ServiceTokenForm
    list_display = [
        "token_id",
        "name",
        "workspace",
        "created",
        "last_used",
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

    environments_codename = {"add": "reveal_secret"}

    def has_revoke_permission(self, request: HttpRequest, obj: ServiceToken | None = None) -> bool:
        return self.holds(request, "revoke", obj)

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

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: ServiceToken) -> str:
        return moment(obj.created_at)

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, obj: ServiceToken) -> str:
        return moment(obj.last_used_at) or "—"

    @admin.display(description=_("expires"), ordering="expires_at")
    def expiry(self, obj: ServiceToken) -> str:
        return expiry_cell(obj)

    @admin.display(description=_("status"))
    def status(self, obj: ServiceToken) -> str:
        return state_badge(obj)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[ServiceToken]:
        return super().get_queryset(request).select_related("workspace", "created_by")

    # -- creation: one ticket per form, POST -> redirect -> the raw token shown once (see once.py)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/created/",
                self.admin_site.admin_view(self.created_view),
                name=self.url_name("created"),
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            # Refused before the ticket is looked at: a person who may not add tokens gets a 403,
            # not a "this form was already submitted" page about a form they were never shown.
            raise PermissionDenied
        if request.method == "POST" and not once.spend_ticket(request, request.POST.get(TICKET_FIELD)):
            # A reload or re-post of a form already submitted: it created its token then.
            self.message_user(
                request,
                _(
                    "This form was already submitted, and its token created and shown once; "
                    "no second token was created. To create another token, use “Add service token”."
                ),
                messages.WARNING,
            )
            return HttpResponseRedirect(self.admin_url("changelist"), status=303)
        # Saving always leads to the one page that shows the raw token; no other buttons.
        extra_context = {
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().add_view(request, form_url, extra_context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ServiceToken | None = None,
    ) -> HttpResponse:
        if add:  # each rendering (first, or again with errors) gets its own ticket
            context.update(token_form_ticket=once.issue_ticket(request), token_ticket_field=TICKET_FIELD)
        return no_store(super().render_change_form(request, context, add, change, form_url, obj))

    @sensitive_variables("raw")
    def save_model(self, request: HttpRequest, obj: ServiceToken, form: Any, change: bool) -> None:
        raw = form.raw_token
        if raw is not None:
            once.keep_for_display(request, obj.pk, raw)

    def response_add(
        self, request: HttpRequest, obj: ServiceToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        # 303: the browser's next request, and any reload, is a GET of the page below.
        return HttpResponseRedirect(self.admin_url("created", obj.pk), status=303)

    @sensitive_variables("raw")
    def created_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The raw token, on the first GET after its creation only; afterwards "already shown"."""
        if not (self.has_add_permission(request) or self.has_view_permission(request)):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return HttpResponseRedirect(self.admin_url("changelist"))
        raw = once.take_for_display(request, obj.pk)
        response = self.render_view(
            request,
            self.token_created_template or self.template_list("token_created.html"),
            obj,
            title=_("Service token created") if raw is not None else _("Service token already shown"),
            raw_token=Concealed(raw) if raw is not None else None,
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
