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
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from secretvault import services
from secretvault.audit import Actor
from secretvault.errors import AccessError, ConflictError, VersionMismatchError
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

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]  # a list, not a str
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
    """Environments as checkboxes: those of the form's workspace only (SPEC §8 "Admin").

    Empty until a workspace is known; :func:`limit_to_workspace` sets the
    choices and an error message naming the workspace.
    """

    def __init__(self, queryset: models.QuerySet[Environment], **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(queryset, **kwargs)

    def label_from_instance(self, obj: Environment) -> str:
        return obj.slug


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose last validation step is the service call that writes (see module doc)."""

    # Service error keys that name a differently-called form field.
    service_field_names: ClassVar[Mapping[str, str]] = {"envs": "environments"}
    # Where a ConflictError is shown; None = above the form.
    conflict_field: ClassVar[str | None] = None

    #: Names are refused, never trimmed (SPEC §8): Django's CharField strips by default,
    #: which would store "KEY" for a submitted "KEY\n" instead of refusing it.
    name_fields: ClassVar[tuple[str, ...]] = ("slug", "key")

    def __init__(self, *args: Any, actor: Actor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        for name in self.name_fields:
            field = self.fields.get(name)
            if isinstance(field, forms.CharField):
                field.strip = False

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
        except AccessError as exc:
            # Beyond the user's reach (secretvault.access); invisible objects read "Not found.".
            self.add_error(None, str(exc))

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


def workspace_of(form: forms.BaseForm) -> Workspace | None:
    """The workspace the form is about: its instance's, else the one posted or given as initial.

    A posted or initial workspace counts only if the form's own ``workspace``
    field offers it (so a queryset narrowed by the admin narrows this too).
    """
    instance = getattr(form, "instance", None)
    if instance is not None and not instance._state.adding and instance.workspace_id:
        return instance.workspace
    raw = form.data.get(form.add_prefix("workspace")) if form.is_bound else form.initial.get("workspace")
    field = form.fields.get("workspace")
    choices = Workspace.objects.all()
    if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
        choices = field.queryset
    if isinstance(raw, Workspace):
        raw = raw.pk
    if not raw:
        return None
    try:
        return choices.filter(pk=raw).first()
    except (ValidationError, ValueError):
        return None


def limit_to_workspace(form: forms.BaseForm, workspace: Workspace | None) -> None:
    """Offer only ``workspace``'s environments (none while no workspace is chosen).

    On the add page the ``workspace`` select is narrowed to that workspace too, so
    the environments shown always belong to the workspace that will be saved; the
    admin's add view lets the user choose the workspace first.
    """
    field = form.fields.get("environments")
    if isinstance(field, EnvironmentChoiceField):
        if workspace is None:
            field.queryset = Environment.objects.none()
        else:
            field.queryset = Environment.objects.filter(workspace=workspace).order_by("slug")
            field.error_messages["invalid_choice"] = str(
                _("%(value)s is not an environment of workspace %(workspace)s.")
            ).replace("%(workspace)s", workspace.slug)
    chooser = form.fields.get("workspace")
    if workspace is not None and isinstance(chooser, forms.ModelChoiceField) and chooser.queryset is not None:
        chooser.queryset = chooser.queryset.filter(pk=workspace.pk)
        chooser.empty_label = None
        chooser.help_text = _("The environments offered are this workspace's. For another, add again.")


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


class ValueTextarea(forms.Textarea):
    """A multi-line input for a secret value that never renders a value back into HTML.

    Like ``PasswordInput(render_value=False)``, but able to hold line breaks (PEM
    keys, certificates, JSON). Masked on screen until the user ticks "Show while
    typing" (pure CSS); no autocomplete, spell checking or autocorrection, so the
    browser neither stores nor sends the text anywhere.
    """

    template_name = "secretvault/widgets/value.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {
            "rows": 6,
            "cols": 64,
            "class": "vLargeTextField sv-value",
            "autocomplete": "off",
            "autocapitalize": "off",
            "autocorrect": "off",
            "spellcheck": "false",
            "wrap": "off",
        }
        super().__init__({**defaults, **(attrs or {})})

    def format_value(self, value: Any) -> None:
        return None  # never echoed: not after a form error, not on the change page


class ValueField(forms.CharField):
    """A secret value typed into :class:`ValueTextarea`: kept byte for byte, but for line breaks.

    Browsers submit every line break of a textarea as CRLF, whatever the user
    typed or pasted (HTML's form submission rules), so each CRLF is turned back
    into LF: a PEM key typed with LF is stored with LF. Nothing else is changed:
    no stripping, no Unicode normalisation. A value that must contain CR is set
    through the API or the command line (docs/admin.md).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("widget", ValueTextarea)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return text.replace("\r\n", "\n")


class SecretForm(ServiceModelForm):
    """Add and change a secret. The value goes in a textarea that never renders it.

    A blank value means "keep the current value" on the change page and is an
    error on the add page; the empty string is stored only by ticking
    ``store_empty``.
    """

    value = ValueField(label=_("Value"))
    # After a successful write: whether a value was entered, and the version written (None: none).
    value_typed = False
    written_version: int | None = None
    store_empty = forms.BooleanField(
        label=_("Store the empty string"),
        required=False,
        help_text=_("Tick to make the value empty (leave the value field blank)."),
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
            "store_empty",
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
        limit_to_workspace(self, workspace_of(self))
        line_breaks = _(
            "Line breaks are stored as LF (\\n); a value that needs CR (\\r) is set through the API "
            "or the command line."
        )
        if "value" in self.fields:
            if adding:
                self.fields["value"].help_text = format_lazy(
                    "{} {}", _("Stored encrypted; never shown on this page again."), line_breaks
                )
            else:
                self.fields["value"].label = _("New value")
                self.fields["value"].help_text = format_lazy(
                    "{} {}",
                    _("Leave blank to keep the current value. A new value becomes a new version."),
                    line_breaks,
                )
        if not adding:
            self.initial["environments"] = [env.pk for env in self.instance.envs.all()]
            self.initial["expected_version"] = self.instance.current_version

    @sensitive_variables("cleaned")
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "value" in self.fields:
            self._check_value(cleaned)
        if self.adding and "environments" in cleaned and cleaned.get("workspace") is not None:
            try:
                _check_workspace(cleaned["environments"], cleaned["workspace"])
            except ValidationError as exc:
                self.add_error("environments", exc)
        return cleaned

    @sensitive_variables("cleaned")
    def _check_value(self, cleaned: dict[str, Any]) -> None:
        """A blank value is "keep" (change) or an error (add), unless ``store_empty`` is ticked."""
        typed = cleaned.get("value", "")
        if cleaned.get("store_empty"):
            if typed:
                self.add_error(
                    "store_empty",
                    _("Either type a value or tick “Store the empty string”, not both."),
                )
        elif self.adding and "value" in cleaned and not typed:
            self.add_error(
                "value",
                _("Enter a value, or tick “Store the empty string” to store an empty one."),
            )

    @sensitive_variables("data", "changes")
    def write(self) -> Secret:
        data = self.cleaned_data
        if self.adding:
            self.value_typed = True
            self.written_version = 1
            return services.create_secret(
                data["workspace"],
                key=data["key"],
                value="" if data.get("store_empty") else data["value"],
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
        if data.get("store_empty"):
            changes["value"] = ""
        elif data.get("value"):
            changes["value"] = data["value"]
        before = self.instance.current_version
        secret = services.update_secret(
            self.instance, expected_version=data.get("expected_version"), actor=self.actor, **changes
        )
        self.value_typed = "value" in changes
        if secret.current_version != before:
            self.written_version = secret.current_version
        return secret

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
        limit_to_workspace(self, workspace_of(self))

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
