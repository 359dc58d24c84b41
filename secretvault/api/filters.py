"""django-filter FilterSets. Every filter runs in SQL through the Core queryset verbs."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from secretvault.api.serializers import MOMENT_SCHEMA, parse_moment
from secretvault.models import AuditEvent, Secret, ServiceToken, TokenType
from secretvault.validators import validate_scope_tag, validate_slug

#: Bound of ``expiring_within``: a hundred years, far inside ``timedelta``'s range.
MAX_SECONDS = 100 * 366 * 24 * 3600


class WholeNumberFormField(forms.IntegerField):
    """Decimal digits only: Django's IntegerField also takes ``" 5"``, ``+5`` and ``5.0``."""

    def to_python(self, value: Any) -> int | None:
        if value not in self.empty_values and not (
            isinstance(value, str) and value.isascii() and value.isdigit()
        ):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_SECONDS})
class SecondsFilter(django_filters.NumberFilter):
    """Seconds from now, ``0`` to ``MAX_SECONDS``: anything else is 400."""

    field_class = WholeNumberFormField


class MomentFormField(forms.Field):
    default_error_messages = {"invalid": "Use Unix seconds or an ISO 8601 date-time."}

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        moment = parse_moment(value)
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return moment


@extend_schema_field({**MOMENT_SCHEMA, "description": "Unix seconds or an ISO 8601 date-time"})
class MomentFilter(django_filters.Filter):
    field_class = MomentFormField


class StableOrderingFilter(django_filters.OrderingFilter):
    """``ordering=-expires_at,key``: NULLs last either way, then a stable tie-break.

    SQLite and PostgreSQL sort NULLs differently by default; this fixes one order.
    """

    def __init__(self, *args: Any, tiebreak: tuple[str, ...] = ("pk",), **kwargs: Any) -> None:
        self.tiebreak = tiebreak
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if not value:
            return qs
        ordering = []
        for param in value:
            descending = param.startswith("-")
            field = F(self.param_map[param.lstrip("-")])
            ordering.append(field.desc(nulls_last=True) if descending else field.asc(nulls_last=True))
        return qs.order_by(*ordering, *self.tiebreak)


class GivenMeansValueFilterSet(django_filters.FilterSet):
    """A filter parameter that is present has a value: ``?state=`` or ``?since=`` is 400.

    django-filter reads an empty value as "no filter", so ``?expiring_within=`` listed
    everything while the OpenAPI document says an integer; here the answer says so
    (#16, like the naming parameters of ``parameters.check_query_names``).
    """

    empty_message = "Empty: give a value, or leave the parameter out."

    def is_valid(self) -> bool:
        valid = super().is_valid()
        empty = [
            name
            for name in self.filters
            if hasattr(self.data, "getlist") and any(not value for value in self.data.getlist(name))
        ]
        # ``?ordering=key,`` names an empty field: 400, not an empty sort key (a 500).
        blank_entry = [
            name
            for name, filter_ in self.filters.items()
            if isinstance(filter_, django_filters.OrderingFilter)
            and hasattr(self.data, "getlist")
            and any(not part for value in self.data.getlist(name) if value for part in value.split(","))
        ]
        for name in empty:
            if name not in self.form.errors:
                self.form.add_error(name, self.empty_message)
        for name in blank_entry:
            if name not in self.form.errors:
                self.form.add_error(name, "An empty entry in the comma-separated list: remove it.")
        return valid and not empty and not blank_entry


class SecretFilterSet(GivenMeansValueFilterSet):
    env = django_filters.CharFilter(
        method="filter_env",
        max_length=50,
        strip=False,  # a name is refused, never trimmed (SPEC §8)
        validators=[validate_slug],
        help_text="Secrets serving this environment: its own and the global ones.",
    )
    scope = django_filters.CharFilter(
        method="filter_scope",
        max_length=64,
        strip=False,
        validators=[validate_scope_tag],
        help_text="Secrets visible to this scope tag: tagged with it, or unscoped.",
    )
    token_type = django_filters.ChoiceFilter(
        method="filter_token_type",
        choices=[(TokenType.API, "API key"), (TokenType.ACCESS, "Access token"), ("none", "(none)")],
    )
    state = django_filters.ChoiceFilter(
        method="filter_state",
        choices=[
            ("active", "active"),
            ("expired", "expired"),
            ("revoked", "revoked"),
            ("expiring_soon", "expiring soon"),
        ],
    )
    expiring_within = SecondsFilter(
        method="filter_expiring_within",
        min_value=0,
        max_value=MAX_SECONDS,
        help_text="Active secrets expiring within this many seconds.",
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=255, help_text="Substring of the key or the description."
    )
    ordering = StableOrderingFilter(
        fields=(
            ("key", "key"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("expires_at", "expires_at"),
            ("current_version", "version"),
        ),
        tiebreak=("key", "created_at", "pk"),
        help_text="Comma-separated; prefix '-' for descending.",
    )

    class Meta:
        model = Secret
        fields: list[str] = []

    def filter_env(self, qs: Any, name: str, value: str) -> QuerySet:
        return qs.for_env(value)

    def filter_scope(self, qs: Any, name: str, value: str) -> QuerySet:
        return qs.for_scope(value)

    def filter_token_type(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(token_type="" if value == "none" else value)

    def filter_state(self, qs: Any, name: str, value: str) -> QuerySet:
        return {
            "active": qs.active,
            "expired": qs.expired,
            "revoked": qs.revoked,
            "expiring_soon": qs.expiring_soon,
        }[value]()

    def filter_expiring_within(self, qs: Any, name: str, value: int) -> QuerySet:
        return qs.expiring_within(int(value))

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(Q(key__icontains=value) | Q(description__icontains=value))


class ServiceTokenFilterSet(GivenMeansValueFilterSet):
    state = django_filters.ChoiceFilter(
        method="filter_state",
        choices=[("active", "active"), ("expired", "expired"), ("revoked", "revoked")],
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, help_text="Substring of the name or the description."
    )

    class Meta:
        model = ServiceToken
        fields: list[str] = []

    def filter_state(self, qs: Any, name: str, value: str) -> QuerySet:
        return {"active": qs.active, "expired": qs.expired, "revoked": qs.revoked}[value]()

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(Q(name__icontains=value) | Q(description__icontains=value))


class AuditEventFilterSet(GivenMeansValueFilterSet):
    action = django_filters.CharFilter(field_name="action", max_length=40, help_text="e.g. secret.update")
    key = django_filters.CharFilter(field_name="key", max_length=255)
    since = MomentFilter(field_name="created_at", lookup_expr="gte", help_text="Events at or after.")
    until = MomentFilter(field_name="created_at", lookup_expr="lte", help_text="Events at or before.")
    actor = django_filters.CharFilter(
        method="filter_actor",
        max_length=200,
        help_text="A username, or token:<token_id>.",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_actor(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value.startswith("token:"):
            # "token:" alone names no token: no events (not those of people, whose token_id is "").
            token_id = value.removeprefix("token:")
            return qs.filter(token_id=token_id) if token_id else qs.none()
        return qs.filter(username=value, token_id="")
