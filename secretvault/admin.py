"""The Django admin for secretvault: a thin door into ``secretvault.services``.

Every write goes through the services (versioned, audited, actor recorded).
Secret values are never rendered back into HTML, except by the reveal view to
users holding ``secretvault.reveal_secret``; a raw service token is shown once,
on the page that answers its creation, and never again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from secretvault import services
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.errors import InUseError, UnknownVersionError
from secretvault.forms import EnvironmentForm, SecretForm, ServiceModelForm, ServiceTokenForm, WorkspaceForm
from secretvault.models import (
    AuditEvent,
    Environment,
    Secret,
    SecretVersion,
    ServiceToken,
    Workspace,
)
from secretvault.redaction import Concealed

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _FieldsetSpec
    from django_stubs_ext import StrOrPromise

# --------------------------------------------------------------------------
# Shared pieces


def _no_store(response: HttpResponse) -> HttpResponse:
    """Pages holding a value or a raw token must not be kept by any cache or the back button."""
    patch_cache_control(response, no_store=True, no_cache=True, must_revalidate=True, private=True, max_age=0)
    response["Pragma"] = "no-cache"
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the
    # page's own POST form, which Django's CSRF check rightly refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


def _moment(value: dt.datetime | None) -> str:
    return localize(timezone.localtime(value)) if value is not None else ""


def _state(obj: Secret | ServiceToken, now: dt.datetime) -> tuple[str, str]:
    """``(css class, label)`` of a secret's or token's state at ``now``."""
    if obj.revoked_at is not None:
        return "revoked", str(_("Revoked"))
    if obj.is_expired(now):
        return "expired", str(_("Expired"))
    soon = now + dt.timedelta(seconds=vault_settings.EXPIRING_SOON_SECONDS)
    if obj.expires_at is not None and obj.expires_at <= soon:
        return "expiring", str(_("Expiring soon"))
    return "active", str(_("Active"))


def _state_badge(obj: Secret | ServiceToken) -> str:
    css, label = _state(obj, timezone.now())
    return format_html('<span class="sv-state sv-state-{}">{}</span>', css, label)


def _expiry_cell(obj: Secret | ServiceToken) -> str:
    """The expiry time, marked when it has passed or is near (whatever else the state is)."""
    if obj.expires_at is None:
        return format_html('<span class="sv-never">{}</span>', _("never"))
    now = timezone.now()
    when = _moment(obj.expires_at)
    if obj.is_expired(now):
        return format_html('<span class="sv-state sv-state-expired">{}</span> {}', _("Expired"), when)
    if obj.expires_at <= now + dt.timedelta(seconds=vault_settings.EXPIRING_SOON_SECONDS):
        return format_html('<span class="sv-state sv-state-expiring">{}</span> {}', _("Expiring soon"), when)
    return when


class StateFilter(admin.SimpleListFilter):
    """Active / expiring soon / expired / revoked, through the managers' verbs (SQL only)."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        return [
            ("active", _("Active")),
            ("expiring", _("Expiring soon")),
            ("expired", _("Expired")),
            ("revoked", _("Revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet | None:
        value = self.value()
        if value == "active":
            return queryset.active()  # type: ignore[attr-defined]
        if value == "expiring":
            return queryset.expiring_within(vault_settings.EXPIRING_SOON_SECONDS)  # type: ignore[attr-defined]
        if value == "expired":
            return queryset.expired()  # type: ignore[attr-defined]
        if value == "revoked":
            return queryset.revoked()  # type: ignore[attr-defined]
        return queryset


class EnvironmentFilter(admin.SimpleListFilter):
    """Secrets or tokens naming an environment, or global ones (naming none)."""

    title = _("environment")
    parameter_name = "env"
    GLOBAL = "global"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        envs = Environment.objects.select_related("workspace").order_by("workspace__slug", "slug")
        # Narrowed to the workspace chosen in the workspace filter, if any.
        workspace = _uuid(request.GET.get("workspace__id__exact"))
        if workspace is not None:
            envs = envs.filter(workspace_id=workspace)
        choices: list[tuple[str, StrOrPromise]] = [(self.GLOBAL, _("(global: every environment)"))]
        choices += [(str(env.pk), f"{env.workspace.slug} / {env.slug}") for env in envs]
        return choices

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet | None:
        value = self.value()
        if not value:
            return queryset
        if value == self.GLOBAL:
            return queryset.global_only()  # type: ignore[attr-defined]
        env = _uuid(value)
        return queryset.none() if env is None else queryset.filter(envs__pk=env)


def _uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class ServiceFormAdmin(admin.ModelAdmin):
    """Admin whose forms write through the services (see ``secretvault.forms``).

    ``save_model`` and ``save_related`` have nothing left to do: the form's
    validation wrote the object, so the write and its audit event happen once.
    """

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        if not issubclass(form_class, ServiceModelForm):
            return form_class
        actor = Actor.from_request(request)

        class ActorForm(form_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("actor", actor)
                super().__init__(*args, **kw)

        ActorForm.__name__ = form_class.__name__
        return ActorForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing to do: the form's service call saved ``obj``."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing to do: environments were saved by the service with the object."""

    def actor(self, request: HttpRequest) -> Actor:
        return Actor.from_request(request)

    def render_view(
        self, request: HttpRequest, templates: Sequence[str] | str, obj: Any, **context: Any
    ) -> TemplateResponse:
        """Render a custom view inside the admin's chrome (breadcrumbs, sidebar, user tools)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": obj,
            "object": obj,
            "has_view_permission": self.has_view_permission(request, obj),
            "has_change_permission": self.has_change_permission(request, obj),
            # The admin's base template reads these; missing, each lookup is a DEBUG log record.
            "subtitle": None,
            "is_popup": False,
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, templates, context)

    def url_name(self, view: str) -> str:
        """``<app>_<model>_<view>``, the admin's URL naming scheme."""
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def admin_url(self, view: str, *args: Any) -> str:
        return reverse(f"admin:{self.url_name(view)}", args=args, current_app=self.admin_site.name)

    def template_list(self, name: str) -> list[str]:
        """``admin/<app>/<model>/<name>``, then ``admin/<app>/<name>``: projects may override either."""
        return [
            f"admin/{self.opts.app_label}/{self.opts.model_name}/{name}",
            f"admin/{self.opts.app_label}/{name}",
        ]


def _describe_references(
    secrets: models.QuerySet[Secret], tokens: models.QuerySet[ServiceToken]
) -> list[str]:
    """What keeps an environment or workspace alive, in words (the admin's delete page)."""
    lines = []
    for secret in secrets.select_related("workspace").with_env_slugs().order_by("workspace__slug", "key"):
        envs = ", ".join(secret.env_slugs()) or str(_("global"))
        lines.append(
            str(_("Secret %(key)s in %(workspace)s (environments: %(envs)s)"))
            % {"key": secret.key, "workspace": secret.workspace.slug, "envs": envs}
        )
    tokens = tokens.select_related("workspace").prefetch_related("envs")
    for token in tokens.order_by("workspace__slug", "name"):
        envs = ", ".join(token.env_slugs()) or str(_("all"))
        lines.append(
            str(_("Service token %(token)s in %(workspace)s (environments: %(envs)s)"))
            % {"token": str(token), "workspace": token.workspace.slug, "envs": envs}
        )
    return lines


class ProtectedDeleteMixin:
    """Deletion through a service that refuses while something still refers to the object."""

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except InUseError as exc:
            # Something came to refer to it between the confirmation page and the POST.
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
            opts = self.opts  # type: ignore[attr-defined]
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )


# --------------------------------------------------------------------------
# Workspaces


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

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Workspace]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _secret_count=models.Count("secrets", distinct=True),
                _token_count=models.Count("tokens", distinct=True),
            )
            .prefetch_related(models.Prefetch("environments", queryset=Environment.objects.order_by("slug")))
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

    @admin.display(description=_("secrets"), ordering="_secret_count")
    def secret_count(self, obj: Workspace) -> int:
        return obj._secret_count  # type: ignore[attr-defined]

    @admin.display(description=_("tokens"), ordering="_token_count")
    def token_count(self, obj: Workspace) -> int:
        return obj._token_count  # type: ignore[attr-defined]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            ids = [ws.pk for ws in objs]
            protected = _describe_references(
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
            protected = _describe_references(
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


# --------------------------------------------------------------------------
# Secrets


@admin.register(Secret)
class SecretAdmin(ServiceFormAdmin):
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

    def has_reveal_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        return self.has_view_or_change_permission(request, obj) and request.user.has_perm(
            f"{self.opts.app_label}.reveal_secret"
        )

    def has_rollback_permission(self, request: HttpRequest, obj: Secret | None = None) -> bool:
        return self.has_view_or_change_permission(request, obj) and request.user.has_perm(
            f"{self.opts.app_label}.rollback_secret"
        )

    # -- change list ----------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Secret]:
        return super().get_queryset(request).select_related("workspace").with_env_slugs()

    @admin.display(description=_("environments"))
    def environment_list(self, obj: Secret) -> str:
        return ", ".join(obj.env_slugs()) or str(_("(global)"))

    @admin.display(description=_("scope"))
    def scope_list(self, obj: Secret) -> str:
        return ", ".join(obj.scope) or str(_("(all apps)"))

    @admin.display(description=_("expires"), ordering="expires_at")
    def expiry(self, obj: Secret) -> str:
        return _expiry_cell(obj)

    @admin.display(description=_("state"))
    def state(self, obj: Secret) -> str:
        return _state_badge(obj)

    @admin.display(description=_("revoked"), boolean=True, ordering="revoked_at")
    def is_revoked(self, obj: Secret) -> bool:
        return obj.is_revoked

    # -- change form ----------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Secret | None = None) -> _FieldsetSpec:
        if obj is None:
            return [
                (None, {"fields": ["workspace", "key", "value", "description", "token_type"]}),
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
                {"fields": ["workspace", "key", "value", "expected_version", "description", "token_type"]},
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
                versions=versions,
                can_reveal=self.has_reveal_permission(request, obj),
                can_rollback=self.has_rollback_permission(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- deletion: through the service, so it is audited ------------------------

    def delete_model(self, request: HttpRequest, obj: Secret) -> None:
        services.delete_secret(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Secret]) -> None:
        actor = self.actor(request)
        for secret in queryset.select_related("workspace").with_env_slugs():
            services.delete_secret(secret, actor=actor)

    # -- actions ------------------------------------------------------------

    def _set_revoked(self, request: HttpRequest, queryset: models.QuerySet[Secret], revoke: bool) -> None:
        actor = self.actor(request)
        change = services.revoke_secret if revoke else services.restore_secret
        changed = unchanged = 0
        # Counted while iterating: the queryset may carry a state filter that no longer holds after.
        for secret in queryset.select_related("workspace"):
            if change(secret, actor=actor):
                changed += 1
                self.log_change(request, secret, "Revoked." if revoke else "Restored.")
            else:
                unchanged += 1
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
        return _no_store(response)

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
        source = SecretVersion.objects.filter(secret=obj, version=version).defer("ciphertext").first()
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
            try:
                services.rollback(obj, version, actor=self.actor(request))
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
            next_version=obj.current_version + 1,
            change_url=change_url,
        )


# --------------------------------------------------------------------------
# Service tokens


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
        return _expiry_cell(obj)

    @admin.display(description=_("status"))
    def status(self, obj: ServiceToken) -> str:
        return _state_badge(obj)

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
        return _no_store(response)

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


# --------------------------------------------------------------------------
# Audit events


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only for everyone (superusers too)."""

    list_display = ["created_at", "action", "workspace", "key", "version", "actor_label", "remote_addr"]
    list_filter = ["workspace", "action"]
    list_select_related = ["workspace"]
    search_fields = ["key", "username", "token_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = (
        "created_at",
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
