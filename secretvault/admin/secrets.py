"""Secrets in the admin: change list, add/change form, version history, reveal and rollback views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from secretvault import services
from secretvault.admin.base import (
    MOMENT_FORMAT,
    EnvironmentFilter,
    StateFilter,
    WorkspaceFirstAdmin,
    expiry_cell,
    no_store,
    state_badge,
)
from secretvault.errors import AccessError, UnknownVersionError, VersionMismatchError
from secretvault.forms import SecretForm
from secretvault.models import Secret, SecretVersion
from secretvault.redaction import Concealed

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

    from secretvault.managers import SecretQuerySet


@admin.register(Secret)
class SecretAdmin(WorkspaceFirstAdmin):
    form = SecretForm
    list_display = [
        "key",
        "workspace",
        "environment_list",
        "scope_list",
        "token_type",
        "current_version",
        "expiry",
        "is_revoked",
    ]
    list_filter = ["workspace", EnvironmentFilter, "token_type", StateFilter]
    list_select_related = ["workspace"]
    search_fields = ["key", "description"]
    ordering = ["workspace__slug", "key"]
    actions = ["revoke_selected", "restore_selected"]
    state_fields = ("current_version", "state", "revoked_at", "created_at", "updated_at")

    # Templates of the custom views; None = the lists from ``template_list()``.
    reveal_template: str | None = None
    rollback_confirmation_template: str | None = None

    class Media:
        css = {"all": ["secretvault/admin.css"]}

    # -- permissions --------------------------------------------------------

    environments_codename = {"add": "add_secret", "change": "change_secret"}

    def has_reveal_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        return self.has_view_or_change_permission(request, obj) and self.holds(request, "reveal", obj)

    def has_rollback_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        # One rule in every door (issue #10 finding 7): change_secret and rollback_secret.
        return self.holds(request, "change", obj) and self.holds(request, "rollback", obj)

    def reach_queryset(self, request: HttpRequest, qs: models.QuerySet) -> models.QuerySet:
        secrets = cast("SecretQuerySet", qs)  # this admin's model is Secret
        return self.principal(request).filter_secrets(secrets)

    # -- change list ----------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Secret]:
        secrets = cast("SecretQuerySet", super().get_queryset(request))  # the model's default manager
        return secrets.select_related("workspace").with_env_slugs()

    @admin.display(description=_("environments"))
    def environment_list(self, obj: Secret) -> str:
        return ", ".join(obj.env_slugs()) or str(_("(global)"))

    @admin.display(description=_("scope"))
    def scope_list(self, obj: Secret) -> str:
        return ", ".join(obj.scope) or str(_("(all apps)"))

    @admin.display(description=_("expires"), ordering="expires_at")
    def expiry(self, obj: Secret) -> str:
        return expiry_cell(obj)

    @admin.display(description=_("state"))
    def state(self, obj: Secret) -> str:
        return state_badge(obj)

    @admin.display(description=_("revoked"), boolean=True, ordering="revoked_at")
    def is_revoked(self, obj: Secret) -> bool:
        return obj.is_revoked

    # -- change form ----------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Secret | None = None) -> _FieldsetSpec:
        if obj is None:
            return [
                (None, {"fields": ["workspace", "key", "value", "store_empty", "description", "token_type"]}),
                (_("Where it applies"), {"fields": ["environments", "scope", "expires_at"]}),
            ]
        if not self.has_change_permission(request, obj):
            return [
                (None, {"fields": ["workspace", "key", "description", "token_type"]}),
                (_("Where it applies"), {"fields": ["environment_list", "scope_list", "expires_at"]}),
                (_("State"), {"fields": self.state_fields}),
            ]
        return [
            (
                None,
                {
                    "fields": [
                        "workspace",
                        "key",
                        "value",
                        "store_empty",
                        "expected_version",
                        "description",
                        "token_type",
                    ]
                },
            ),
            (_("Where it applies"), {"fields": ["environments", "scope", "expires_at"]}),
            (_("State"), {"fields": self.state_fields}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Secret | None = None) -> list[str]:
        if obj is None:
            return []
        # The key and workspace are a secret's name; a new name is a new secret.
        return ["workspace", "key", *self.state_fields]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        # Never prefill a value from the query string: it would end up in logs and history.
        initial.pop("value", None)
        return initial

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Secret | None = None,
    ) -> HttpResponse:
        context.setdefault("versions", None)  # read by the template; set on the change page
        if obj is not None and not obj._state.adding and not add:
            versions = (
                SecretVersion.objects.filter(secret=obj)
                .defer("ciphertext")
                .select_related("created_by", "created_by_token")
                .order_by("-version")
            )
            context.update(
                moment_format=MOMENT_FORMAT,
                versions=versions,
                can_reveal=self.has_reveal_permission(request, obj),
                can_rollback=self.has_rollback_permission(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Secret, form: Any, change: bool) -> None:
        """The form wrote ``obj``; say which version holds the value entered, if any."""
        version = getattr(form, "written_version", None)
        if version is not None:
            self.message_user(
                request,
                _("%(key)s: the value was saved as version %(version)d.")
                % {"key": obj.key, "version": version},
                messages.SUCCESS,
            )
        elif getattr(form, "value_typed", False):
            self.message_user(
                request,
                _(
                    "%(key)s: the value entered is the current value; "
                    "no new version (still version %(version)d)."
                )
                % {"key": obj.key, "version": obj.current_version},
                messages.INFO,
            )

    # -- deletion: through the service, so it is audited ------------------------

    def delete_model(self, request: HttpRequest, obj: Secret) -> None:
        services.delete_secret(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Secret]) -> None:
        actor = self.actor(request)
        secrets = cast("SecretQuerySet", queryset)  # from get_queryset(), so a SecretQuerySet
        for secret in secrets.select_related("workspace").with_env_slugs():
            services.delete_secret(secret, actor=actor)

    # -- actions ------------------------------------------------------------

    def _set_revoked(self, request: HttpRequest, queryset: models.QuerySet[Secret], revoke: bool) -> None:
        actor = self.actor(request)
        change = services.revoke_secret if revoke else services.restore_secret
        changed = unchanged = 0
        # Counted while iterating: the queryset may carry a state filter that no longer holds after.
        refused = 0
        # The change list's queryset already prefetches each secret's environments.
        for secret in queryset.select_related("workspace"):
            try:
                done = change(secret, actor=actor)
            except AccessError:
                refused += 1  # visible, but beyond the user's write reach (secretvault.access)
                continue
            if done:
                changed += 1
                self.log_change(request, secret, "Revoked." if revoke else "Restored.")
            else:
                unchanged += 1
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d secret is beyond your access; it was left alone.",
                    "%(count)d secrets are beyond your access; they were left alone.",
                    refused,
                )
                % {"count": refused},
                messages.ERROR,
            )
        if revoke:
            message = ngettext("Revoked %(count)d secret.", "Revoked %(count)d secrets.", changed)
            rest = ngettext("%(count)d was already revoked.", "%(count)d were already revoked.", unchanged)
        else:
            message = ngettext("Restored %(count)d secret.", "Restored %(count)d secrets.", changed)
            rest = ngettext("%(count)d was not revoked.", "%(count)d were not revoked.", unchanged)
        text = message % {"count": changed}
        if unchanged:
            text = f"{text} {rest % {'count': unchanged}}"
        self.message_user(request, text, messages.SUCCESS if changed else messages.WARNING)

    @admin.action(permissions=["change"], description=_("Revoke selected secrets"))
    def revoke_selected(self, request: HttpRequest, queryset: models.QuerySet[Secret]) -> None:
        self._set_revoked(request, queryset, revoke=True)

    @admin.action(permissions=["change"], description=_("Restore selected secrets"))
    def restore_selected(self, request: HttpRequest, queryset: models.QuerySet[Secret]) -> None:
        self._set_revoked(request, queryset, revoke=False)

    # -- custom views: reveal and rollback -----------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name=self.url_name("reveal"),
            ),
            path(
                "<path:object_id>/rollback/<int:version>/",
                self.admin_site.admin_view(self.rollback_view),
                name=self.url_name("rollback"),
            ),
            *super().get_urls(),
        ]

    def _secret_or_redirect(self, request: HttpRequest, object_id: str) -> Secret | HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            self.message_user(
                request,
                _("No secret with ID “%(id)s”. Perhaps it was deleted?") % {"id": unquote(object_id)},
                messages.WARNING,
            )
            return HttpResponseRedirect(self.admin_url("changelist"))
        return obj

    def _change_url(self, obj: Secret) -> str:
        return self.admin_url("change", obj.pk)

    @method_decorator(sensitive_post_parameters("value"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The typed value is a POST parameter: error reports (technical 500, e-mail) hide it.
        return super().changeform_view(request, object_id, form_url, extra_context)

    @sensitive_variables("value")
    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks for confirmation; POST shows the current value (audited, never cached)."""
        if not self.has_reveal_permission(request):
            raise PermissionDenied
        obj = self._secret_or_redirect(request, object_id)
        if isinstance(obj, HttpResponse):
            return obj
        if not self.has_reveal_permission(request, obj):
            raise PermissionDenied
        value = None
        if request.method == "POST":
            # Concealed: the page shows it, a logged or printed context does not (see redaction).
            value = Concealed(services.reveal(obj, actor=self.actor(request)))
        response = self.render_view(
            request,
            self.reveal_template or self.template_list("reveal.html"),
            obj,
            title=_("Reveal %(key)s") % {"key": obj.key},
            value=value,
            revealed=value is not None,
            change_url=self._change_url(obj),
        )
        return no_store(response)

    def rollback_view(self, request: HttpRequest, object_id: str, version: int) -> HttpResponse:
        """GET: the confirmation page. POST: write the new version holding ``version``'s value."""
        if not self.has_rollback_permission(request):
            raise PermissionDenied
        obj = self._secret_or_redirect(request, object_id)
        if isinstance(obj, HttpResponse):
            return obj
        if not self.has_rollback_permission(request, obj):
            raise PermissionDenied
        change_url = self._change_url(obj)
        source = (
            SecretVersion.objects.filter(secret=obj, version=version)
            .defer("ciphertext")
            .select_related("created_by", "created_by_token")
            .first()
        )
        if source is None:
            self.message_user(
                request,
                _("%(key)s has no version %(version)d.") % {"key": obj.key, "version": version},
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        if version == obj.current_version:
            self.message_user(
                request,
                _("Version %(version)d is already the current version of %(key)s.")
                % {"key": obj.key, "version": version},
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            # The version the confirmation page showed as current: a re-post or a stale tab writes nothing.
            shown = request.POST.get("current", "")
            try:
                services.rollback(
                    obj,
                    version,
                    actor=self.actor(request),
                    expected_version=int(shown) if shown.isdigit() else None,
                )
            except VersionMismatchError as exc:
                self.message_user(
                    request,
                    _(
                        "%(key)s changed since the confirmation page was shown "
                        "(it is now version %(current)d): nothing was rolled back."
                    )
                    % {"key": obj.key, "current": exc.current},
                    messages.WARNING,
                )
                return HttpResponseRedirect(change_url)
            except UnknownVersionError:
                self.message_user(
                    request,
                    _("%(key)s has no version %(version)d.") % {"key": obj.key, "version": version},
                    messages.ERROR,
                )
                return HttpResponseRedirect(change_url)
            message = _("Rolled back %(key)s to version %(source)d: it is now version %(current)d.") % {
                "key": obj.key,
                "source": version,
                "current": obj.current_version,
            }
            self.log_change(request, obj, str(message))
            self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return self.render_view(
            request,
            self.rollback_confirmation_template or self.template_list("rollback_confirmation.html"),
            obj,
            title=_("Roll back %(key)s to version %(version)d?") % {"key": obj.key, "version": version},
            source=source,
            moment_format=MOMENT_FORMAT,
            next_version=obj.current_version + 1,
            change_url=change_url,
        )
