"""The audit trail in the admin: read-only for everyone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from secretvault.admin.base import moment
from secretvault.admin.reach import ReachAdminMixin
from secretvault.models import AuditEvent

if TYPE_CHECKING:
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(ReachAdminMixin, admin.ModelAdmin):
    """The audit trail, read-only for everyone (superusers too)."""

    list_display = ["when", "action", "workspace", "key", "version", "actor_label", "remote_addr"]
    list_filter = ["workspace", "action"]
    list_select_related = ["workspace"]
    search_fields = ["key", "username", "token_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = (
        "when",
        "action",
        "workspace",
        "key",
        "version",
        "actor_label",
        "username",
        "token_id",
        "remote_addr",
        "detail_items",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    @admin.display(description=_("time"), ordering="created_at")
    def when(self, obj: AuditEvent) -> str:
        return moment(obj.created_at)

    @admin.display(description=_("actor"))
    def actor_label(self, obj: AuditEvent) -> str:
        return obj.actor or str(_("system"))

    @admin.display(description=_("detail"))
    def detail_items(self, obj: AuditEvent) -> str:
        items: Iterable[tuple[str, str]] = (
            (str(name), ", ".join(map(str, value)) if isinstance(value, list) else str(value))
            for name, value in sorted((obj.detail or {}).items())
        )
        return format_html_join("", "<div><strong>{}</strong>: {}</div>", items) or "—"
