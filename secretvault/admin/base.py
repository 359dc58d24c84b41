"""Shared pieces of the admin classes: the service-writing base class, list filters, state cells."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.db import models
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from secretvault import access
from secretvault.admin.reach import ReachAdminMixin
from secretvault.audit import Actor
from secretvault.conf import vault_settings
from secretvault.errors import InUseError
from secretvault.forms import ServiceModelForm
from secretvault.models import Environment, Secret, ServiceToken, Workspace

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from secretvault.managers import ExpiringQuerySet, SecretQuerySet


def no_store(response: HttpResponse) -> HttpResponse:
    """Pages holding a value or a raw token must not be kept by any cache or the back button."""
    patch_cache_control(response, no_store=True, no_cache=True, must_revalidate=True, private=True, max_age=0)
    response["Pragma"] = "no-cache"
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the
    # page's own POST form, which Django's CSRF check rightly refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


# Times in the admin's own cells and pages: to the second (versions written within one
# minute must not look simultaneous), in the current time zone, named.
MOMENT_FORMAT = "Y-m-d H:i:s T"


def moment(value: dt.datetime | None) -> str:
    """``value`` in the current time zone to the second (``MOMENT_FORMAT``); ``""`` for None."""
    return dateformat.format(timezone.localtime(value), MOMENT_FORMAT) if value is not None else ""


def state_of(obj: Secret | ServiceToken, now: dt.datetime) -> tuple[str, str]:
    """``(css class, label)`` of a secret's or token's state at ``now``."""
    if obj.revoked_at is not None:
        return "revoked", str(_("Revoked"))
    if obj.is_expired(now):
        return "expired", str(_("Expired"))
    soon = now + dt.timedelta(seconds=vault_settings.EXPIRING_SOON_SECONDS)
    if obj.expires_at is not None and obj.expires_at <= soon:
        return "expiring", str(_("Expiring soon"))
    return "active", str(_("Active"))


def state_badge(obj: Secret | ServiceToken) -> str:
    css, label = state_of(obj, timezone.now())
    return format_html('<span class="sv-state sv-state-{}">{}</span>', css, label)


def expiry_cell(obj: Secret | ServiceToken) -> str:
    """The expiry time, marked when it has passed or is near (whatever else the state is)."""
    if obj.expires_at is None:
        return format_html('<span class="sv-never">{}</span>', _("never"))
    now = timezone.now()
    when = moment(obj.expires_at)
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
        rows = cast("ExpiringQuerySet", queryset)  # used on secrets and tokens only
        if value == "active":
            return rows.active()
        if value == "expiring":
            return rows.expiring_within(vault_settings.EXPIRING_SOON_SECONDS)
        if value == "expired":
            return rows.expired()
        if value == "revoked":
            return rows.revoked()
        return queryset


class EnvironmentFilter(admin.SimpleListFilter):
    """Secrets or tokens naming an environment, or global ones (naming none)."""

    title = _("environment")
    parameter_name = "env"
    GLOBAL = "global"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        envs = Environment.objects.select_related("workspace").order_by("workspace__slug", "slug")
        envs = access.principal_for_user(request.user).filter_environments(envs)
        # Narrowed to the workspace chosen in the workspace filter, if any.
        workspace = parse_uuid(request.GET.get("workspace__id__exact"))
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
            return cast("ExpiringQuerySet", queryset).global_only()  # used on secrets and tokens only
        env = parse_uuid(value)
        return queryset.none() if env is None else queryset.filter(envs__pk=env)


def parse_uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class ServiceFormAdmin(ReachAdminMixin, admin.ModelAdmin):
    """Admin whose forms write through the services (see ``secretvault.forms``).

    What each user sees and may do is the reach rule's (``secretvault.admin.reach``).

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

        class ActorForm(form_class):  # type: ignore[valid-type,misc]  # a class chosen at run time
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


class WorkspaceFirstAdmin(ServiceFormAdmin):
    """The add page asks for the workspace first, so its form offers that workspace's environments only.

    A GET of the add page without a usable ``?workspace=<id>`` shows a short
    "choose the workspace" page (a GET form back to the add page); with a single
    workspace to choose from it goes straight on. The form
    (``forms.limit_to_workspace``) then lists only that workspace's environments
    and refuses others on POST.
    """

    choose_workspace_template: str | None = None

    def workspace_choices(self, request: HttpRequest) -> models.QuerySet[Workspace]:
        """The workspaces offered on the first step: the add form's own ``workspace`` choices."""
        field = self.get_form(request).base_fields.get("workspace")
        if isinstance(field, ModelChoiceField) and field.queryset is not None:
            return field.queryset.order_by("slug")
        return Workspace.objects.order_by("slug")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if request.method in ("GET", "HEAD") and self.has_add_permission(request):
            choices = self.workspace_choices(request)
            chosen = parse_uuid(request.GET.get("workspace"))
            if chosen is None or not choices.filter(pk=chosen).exists():
                return self.choose_workspace_view(request, choices)
        return super().add_view(request, form_url, extra_context)

    def choose_workspace_view(
        self, request: HttpRequest, choices: models.QuerySet[Workspace]
    ) -> HttpResponse:
        workspaces = list(choices[:2])
        if len(workspaces) == 1:
            query = request.GET.copy()
            query["workspace"] = str(workspaces[0].pk)
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return self.render_view(
            request,
            self.choose_workspace_template or self.template_list("choose_workspace.html"),
            None,
            title=_("Add %(name)s: choose the workspace") % {"name": self.opts.verbose_name},
            workspaces=choices,
            carried=[(name, value) for name, value in request.GET.items() if name != "workspace"],
            workspace_add_url=reverse(
                f"admin:{self.opts.app_label}_workspace_add", current_app=self.admin_site.name
            ),
        )


def describe_references(secrets: SecretQuerySet, tokens: models.QuerySet[ServiceToken]) -> list[str]:
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
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]  # mixin over ModelAdmin
        except InUseError as exc:
            # Something came to refer to it between the confirmation page and the POST.
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]  # mixin over ModelAdmin
            opts = self.opts  # type: ignore[attr-defined]  # mixin over ModelAdmin
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )
