"""Admin forms. Each one writes through ``secretvault.services`` as its last validation step.

The services validate and write in one atomic step (the key-conflict check, for
one, is only race-free under the workspace lock they take), so a form cannot
check first and write later without duplicating those rules. Instead each
form's ``_post_clean`` -- the step where a ``ModelForm`` would validate its
instance against the model -- calls the service; the service's
``ValidationError`` and ``ConflictError`` become form errors and nothing is
written. On success ``form.instance`` is the object the service wrote, so the
admin's ``save_model`` has nothing left to do.

No form here ever renders a secret value or a raw token back into HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from secretvault import services
from secretvault.audit import Actor
from secretvault.errors import ConflictError, VersionMismatchError
from secretvault.models import Environment, Secret, ServiceToken, Workspace
from secretvault.validators import validate_scope


class ScopeField(forms.CharField):
    """Scope tags typed as ``web, worker``; cleaned to the sorted list ``validate_scope`` returns."""

    default_help_text = _("App tags, separated by commas or spaces; empty = every app.")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", self.default_help_text)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return ", ".join(str(tag) for tag in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, (list, tuple)):
            tags: Iterable[Any] = value
        else:
            text = super().to_python(value) or ""
            tags = [tag for tag in text.replace(",", " ").split() if tag]
        return validate_scope(tags)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return validate_scope(initial or []) != self.to_python(data)
        except ValidationError:
            return True


class EnvironmentChoiceField(forms.ModelMultipleChoiceField):
    """Environments as checkboxes, labelled ``workspace / slug`` when several workspaces show."""

    def __init__(self, queryset: models.QuerySet[Environment], **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        self.show_workspace = True
        super().__init__(queryset, **kwargs)

    def label_from_instance(self, obj: Environment) -> str:
        if self.show_workspace:
            return f"{obj.workspace.slug} / {obj.slug}"
        return obj.slug


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose last validation step is the service call that writes (see module doc)."""

    # Service error keys that name a differently-called form field.
    service_field_names: ClassVar[Mapping[str, str]] = {"envs": "environments"}
    # Where a ConflictError is shown; None = above the form.
    conflict_field: ClassVar[str | None] = None

    def __init__(self, *args: Any, actor: Actor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def write(self) -> models.Model:
        """Write through the services and return the saved object. Raise to refuse."""
        raise NotImplementedError

    def _post_clean(self) -> None:
        if self.errors:  # already computed by now: full_clean() calls this last
            return
        try:
            self.instance = self.write()
        except ValidationError as exc:
            self.add_service_errors(exc)
        except ConflictError as exc:
            self.add_conflict(exc)

    def add_conflict(self, exc: ConflictError) -> None:
        self.add_error(self.conflict_field, str(exc))

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for key, errors in exc.error_dict.items():
            name = self.service_field_names.get(key, key)
            if name != NON_FIELD_ERRORS and name not in self.fields:
                name = NON_FIELD_ERRORS
            self.add_error(None, {name: errors})

    @property
    def adding(self) -> bool:
        # Not ``pk is None``: UUID primary keys are set as soon as the instance exists.
        return self.instance._state.adding

    def changed(self, name: str) -> bool:
        return name in self.changed_data


def _workspace_from(form: forms.BaseForm) -> Workspace | None:
    """The workspace the form is about: its instance's, else the one chosen or given as initial."""
    instance = getattr(form, "instance", None)
    if instance is not None and not instance._state.adding and instance.workspace_id:
        return instance.workspace
    raw = form.data.get(form.add_prefix("workspace")) if form.is_bound else form.initial.get("workspace")
    if isinstance(raw, Workspace):
        return raw
    if not raw:
        return None
    try:
        return Workspace.objects.filter(pk=raw).first()
    except (ValidationError, ValueError):
        return None


def _limit_environments(form: forms.BaseForm, workspace: Workspace | None) -> None:
    field = form.fields.get("environments")
    if not isinstance(field, EnvironmentChoiceField):
        return
    queryset = Environment.objects.select_related("workspace").order_by("workspace__slug", "slug")
    if workspace is not None:
        field.queryset = queryset.filter(workspace=workspace)
        field.show_workspace = False
    else:
        field.queryset = queryset


def _slugs(environments: Iterable[Environment] | None) -> list[str]:
    return sorted(env.slug for env in environments or [])


def _check_workspace(environments: Iterable[Environment], workspace: Workspace | None) -> None:
    strangers = sorted(
        f"{env.workspace.slug} / {env.slug}"
        for env in environments
        if workspace is None or env.workspace_id != workspace.pk
    )
    if strangers:
        raise ValidationError(
            _("Choose environments of the secret's workspace only (not: %(envs)s).")
            % {"envs": ", ".join(strangers)},
            code="foreign_env",
        )


# --------------------------------------------------------------------------
# Workspaces and environments


class WorkspaceForm(ServiceModelForm):
    conflict_field = "slug"

    class Meta:
        model = Workspace
        fields = ["slug", "name"]

    def write(self) -> Workspace:
        return services.create_workspace(
            slug=self.cleaned_data["slug"], name=self.cleaned_data.get("name", ""), actor=self.actor
        )


class EnvironmentForm(ServiceModelForm):
    conflict_field = "slug"

    class Meta:
        model = Environment
        fields = ["workspace", "slug", "name"]

    def write(self) -> Environment:
        data = self.cleaned_data
        if self.adding:
            return services.create_environment(
                data["workspace"], slug=data["slug"], name=data.get("name", ""), actor=self.actor
            )
        # A fresh copy: a refused rename must not leave the page showing the new slug.
        env = Environment.objects.select_related("workspace").get(pk=self.instance.pk)
        changes = {name: data[name] for name in ("slug", "name") if self.changed(name)}
        if not changes:
            return env
        return services.update_environment(env, actor=self.actor, **changes)


# --------------------------------------------------------------------------
# Secrets


class SecretForm(ServiceModelForm):
    """Add and change a secret. The value goes in a password input that never renders it."""

    value = forms.CharField(
        label=_("Value"),
        required=False,
        strip=False,
        # new-password keeps browsers from filling the admin's own saved password in here.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    environments = EnvironmentChoiceField(
        queryset=Environment.objects.none(),
        label=_("Environments"),
        help_text=_("Environments served; none = global (every environment)."),
    )
    scope = ScopeField(label=_("Scope"))
    expected_version = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    class Meta:
        model = Secret
        fields = [
            "workspace",
            "key",
            "value",
            "description",
            "token_type",
            "environments",
            "scope",
            "expires_at",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adding = self.adding
        _limit_environments(self, _workspace_from(self))
        if "value" in self.fields:
            if adding:
                self.fields["value"].required = True
                self.fields["value"].help_text = _("Stored encrypted; never shown on this page again.")
            else:
                self.fields["value"].label = _("New value")
                self.fields["value"].help_text = _(
                    "Leave blank to keep the current value. A new value becomes a new version."
                )
        if not adding:
            self.initial["environments"] = [env.pk for env in self.instance.envs.all()]
            self.initial["expected_version"] = self.instance.current_version

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.adding and "environments" in cleaned and cleaned.get("workspace") is not None:
            try:
                _check_workspace(cleaned["environments"], cleaned["workspace"])
            except ValidationError as exc:
                self.add_error("environments", exc)
        return cleaned

    @sensitive_variables("data", "changes")
    def write(self) -> Secret:
        data = self.cleaned_data
        if self.adding:
            return services.create_secret(
                data["workspace"],
                key=data["key"],
                value=data["value"],
                description=data.get("description", ""),
                token_type=data.get("token_type", ""),
                scope=data.get("scope") or [],
                envs=_slugs(data.get("environments")),
                expires_at=data.get("expires_at"),
                actor=self.actor,
            )
        changes: dict[str, Any] = {}
        for name in ("description", "token_type", "scope", "expires_at"):
            if name in self.fields and self.changed(name):
                changes[name] = data.get(name)
        if "environments" in self.fields and self.changed("environments"):
            changes["envs"] = _slugs(data.get("environments"))
        if data.get("value"):
            changes["value"] = data["value"]
        return services.update_secret(
            self.instance, expected_version=data.get("expected_version"), actor=self.actor, **changes
        )

    def add_conflict(self, exc: ConflictError) -> None:
        if isinstance(exc, VersionMismatchError):
            # Resubmitting after a look at the new history should work: carry the current number.
            data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
            data[self.add_prefix("expected_version")] = str(exc.current)
            self.data = data
            self.add_error(
                None,
                _(
                    "Someone else changed this secret while you were editing it (it is now version "
                    "%(current)s). Review the version history below and save again."
                )
                % {"current": exc.current},
            )
            return
        super().add_conflict(exc)


# --------------------------------------------------------------------------
# Service tokens


class ServiceTokenForm(ServiceModelForm):
    """Create a token. Tokens are not edited afterwards: only revoked."""

    environments = EnvironmentChoiceField(
        queryset=Environment.objects.none(),
        label=_("Environments"),
        help_text=_("Environments the token reaches; none = all."),
    )
    scope = ScopeField(
        label=_("Scope"), help_text=_("App tags the token reaches, comma-separated; empty = all.")
    )

    class Meta:
        model = ServiceToken
        fields = ["workspace", "name", "description", "environments", "scope", "can_write", "expires_at"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_token: str | None = None
        _limit_environments(self, _workspace_from(self))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "environments" in cleaned and cleaned.get("workspace") is not None:
            try:
                _check_workspace(cleaned["environments"], cleaned["workspace"])
            except ValidationError as exc:
                self.add_error("environments", exc)
        return cleaned

    @sensitive_variables("raw")
    def write(self) -> ServiceToken:
        if not self.adding:
            raise ValidationError(_("Service tokens cannot be changed; revoke this one and create another."))
        data = self.cleaned_data
        token, raw = services.create_token(
            data["workspace"],
            name=data["name"],
            description=data.get("description", ""),
            envs=_slugs(data.get("environments")),
            scope=data.get("scope") or [],
            can_write=bool(data.get("can_write")),
            expires_at=data.get("expires_at"),
            actor=self.actor,
        )
        # Kept on the form only, for the one page that shows it; never stored anywhere.
        self.raw_token = raw
        return token
