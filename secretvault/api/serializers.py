"""Representations of the API. Read serializers never hold a value, except ``reveal``'s.

Write serializers check shapes and types only (a string is a string, a list a list,
an expiry a Unix time or an ISO 8601 moment); the rules of names and values live in
``secretvault.validators`` and are applied by the services. Every write serializer
refuses fields it does not know (``id``, ``version``, ``workspace`` included) with 400.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from secretvault.models import (
    AuditEvent,
    Environment,
    Secret,
    SecretVersion,
    ServiceToken,
    TokenType,
    Workspace,
    unix_seconds,
)
from secretvault.validators import MAX_LIST_ITEMS, validate_key, validate_scope_tag, validate_slug

MAX_INT = 2**31 - 1

# ----------------------------------------------------------------------------------
# Fields


class StrictCharField(serializers.CharField):
    """A JSON string: numbers, booleans, lists and objects are refused, not coerced.

    Nothing is trimmed (DRF's ``trim_whitespace`` is off): a name with a trailing
    newline or blank is refused by its validator, and a value or description is
    stored exactly as sent (SPEC §8).
    """

    default_error_messages = {
        "invalid": "Must be a string.",
        "invalid_unicode": "Must be valid Unicode text.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, which JSON escapes can carry
            self.fail("invalid_unicode")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringListField(serializers.ListField):
    """A JSON list of strings (a lone string is refused, not split).

    At most ``max_length`` items (default :data:`MAX_LIST_ITEMS`): the field
    refuses a longer list with 400 before any item is checked.
    """

    child = StrictCharField(max_length=200)
    default_error_messages = {"not_a_list": "Must be a list of strings."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_LIST_ITEMS)
        super().__init__(**kwargs)


def slug_list(**kwargs: Any) -> StringListField:
    return StringListField(child=StrictCharField(max_length=50, validators=[validate_slug]), **kwargs)


def scope_list(**kwargs: Any) -> StringListField:
    return StringListField(child=StrictCharField(max_length=64, validators=[validate_scope_tag]), **kwargs)


#: The Unix seconds ``parse_moment`` reads: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_UNIX_SECONDS = -62_135_596_800
MAX_UNIX_SECONDS = 253_402_300_799

#: OpenAPI schema of what ``parse_moment`` reads (an ``anyOf``, so OpenAPI 3.0.3 has it).
MOMENT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "integer",
            "minimum": MIN_UNIX_SECONDS,
            "maximum": MAX_UNIX_SECONDS,
            "description": "Unix seconds",
        },
        {"type": "string", "format": "date-time", "description": "ISO 8601 (no offset = UTC)"},
    ],
}


def parse_moment(data: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from Unix seconds or an ISO 8601 string; ``None`` if neither.

    A naive ISO string is taken as UTC.
    """
    try:
        if isinstance(data, bool):
            return None
        if isinstance(data, int):
            return dt.datetime.fromtimestamp(data, tz=dt.timezone.utc)
        if isinstance(data, str):
            text = data.strip()
            if text.lstrip("-").isdigit() and len(text) <= 20:
                return dt.datetime.fromtimestamp(int(text), tz=dt.timezone.utc)
            parsed = parse_datetime(text)
            if parsed is None:
                return None
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            return parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


# OpenAPI 3.0.3 has no ``type: [integer, string, "null"]``, and strict validators ignore
# ``nullable`` without a sibling ``type``: the null rides on the integer branch.
@extend_schema_field(
    {
        "anyOf": [
            {**MOMENT_SCHEMA["anyOf"][0], "nullable": True, "description": "Unix seconds, or null"},
            MOMENT_SCHEMA["anyOf"][1],
        ],
        "description": "Unix seconds or an ISO 8601 moment (naive = UTC); in the future; null for none.",
    }
)
class ExpiryField(serializers.Field):
    """Input: Unix seconds (int), an ISO 8601 string, or null. Output: Unix seconds or null."""

    default_error_messages = {
        "invalid": "Use Unix seconds (an integer), an ISO 8601 date-time, or null.",
        "past": "The expiry must lie in the future.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dt.datetime:
        moment = parse_moment(data)
        if moment is None:
            self.fail("invalid")
        moment = moment.replace(microsecond=0)
        if moment <= timezone.now():
            self.fail("past")
        return moment

    def to_representation(self, value: dt.datetime | None) -> int | None:
        return unix_seconds(value)


@extend_schema_field({"type": "integer", "nullable": True, "description": "Unix seconds"})
class UnixTimeField(serializers.ReadOnlyField):
    def to_representation(self, value: dt.datetime | None) -> int | None:
        return unix_seconds(value)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (400), instead of silently dropping them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown or read-only field; it cannot be set."] for name in unknown}
                )
        return super().to_internal_value(data)


class NoFieldsSerializer(StrictSerializer):
    """The body of an action that takes no input (revoke, restore): absent or ``{}``."""


# ----------------------------------------------------------------------------------
# Workspaces and environments


class WorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "slug", "name", "created_at", "updated_at"]
        read_only_fields = fields


class WorkspaceCreateSerializer(StrictSerializer):
    slug = StrictCharField(
        max_length=50, validators=[validate_slug], help_text="1-50 lowercase letters, digits and hyphens."
    )
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["id", "slug", "name", "created_at"]
        read_only_fields = fields


class EnvironmentWriteSerializer(StrictSerializer):
    slug = StrictCharField(
        max_length=50, validators=[validate_slug], help_text="1-50 lowercase letters, digits and hyphens."
    )
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


# ----------------------------------------------------------------------------------
# Secrets


class SecretSerializer(serializers.Serializer):
    """A secret's metadata. Never its value."""

    id = serializers.UUIDField(read_only=True)
    workspace = serializers.CharField(source="workspace.slug", read_only=True)
    key = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    token_type = serializers.ChoiceField(choices=TokenType.choices, read_only=True)
    scope = serializers.ListField(child=serializers.CharField(), read_only=True)
    envs = serializers.SerializerMethodField()
    expires_at = UnixTimeField()
    is_expired = serializers.SerializerMethodField()
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)
    version = serializers.IntegerField(source="current_version", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_envs(self, obj: Secret) -> list[str]:
        return obj.env_slugs()

    def get_is_expired(self, obj: Secret) -> bool:
        return obj.is_expired(self.context.get("now"))


class SecretRevealSerializer(SecretSerializer):
    """Metadata plus the current value (schema only: the view adds ``value``)."""

    value = serializers.CharField(read_only=True)


class SecretWriteSerializer(StrictSerializer):
    """POST (``key`` and ``value`` required), PUT (``value`` optional: absent keeps it;
    missing metadata resets to defaults) and PATCH (every field optional)."""

    key = StrictCharField(
        max_length=255, validators=[validate_key], help_text="An environment-variable name."
    )
    value = StrictCharField(
        write_only=True,
        allow_blank=True,
        help_text="The secret value: a string of at most MAX_VALUE_BYTES bytes of UTF-8, without NUL.",
    )
    description = StrictCharField(required=False, allow_blank=True, default="")
    token_type = serializers.ChoiceField(
        choices=TokenType.choices, required=False, default="", allow_blank=True
    )
    scope = scope_list(required=False, default=list, help_text="App tags; empty = every app.")
    envs = slug_list(
        required=False, default=list, help_text="Environment slugs; empty = global (every environment)."
    )
    expires_at = ExpiryField(required=False, default=None)
    expected_version = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_INT,
        write_only=True,
        help_text="Check-and-set: refuse with 409 unless this is the current version.",
    )

    def __init__(self, *args: Any, mode: str = "create", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if mode == "create":
            self.fields.pop("expected_version")
        else:
            self.fields["key"].required = False
            self.fields["value"].required = False


class SecretCreateSerializer(SecretWriteSerializer):
    """Schema name of the POST body."""


class SecretUpdateSerializer(SecretWriteSerializer):
    """Schema name of the PUT/PATCH body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "update")
        super().__init__(*args, **kwargs)


class RollbackSerializer(StrictSerializer):
    version = StrictIntegerField(min_value=1, max_value=MAX_INT, help_text="The version to restore.")
    expected_version = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_INT,
        help_text="Check-and-set: refuse with 409 unless this is the current version.",
    )


class SecretVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    token_id = serializers.SerializerMethodField()

    class Meta:
        model = SecretVersion
        fields = ["version", "action", "source_version", "created_by", "token_id", "created_at"]
        read_only_fields = fields

    def get_created_by(self, obj: SecretVersion) -> str | None:
        return obj.created_by.get_username() if obj.created_by is not None else None

    def get_token_id(self, obj: SecretVersion) -> str | None:
        return obj.created_by_token.token_id if obj.created_by_token is not None else None


class StatsSerializer(serializers.Serializer):
    workspace = serializers.CharField()
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    expired = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    revoked = serializers.IntegerField()


class LoadSerializer(serializers.Serializer):
    workspace = serializers.CharField()
    env = serializers.CharField(allow_null=True)
    secrets = serializers.DictField(child=serializers.CharField(), help_text="KEY: value")


# ----------------------------------------------------------------------------------
# Service tokens


class ServiceTokenSerializer(serializers.ModelSerializer):
    envs = serializers.SerializerMethodField()
    scope = serializers.ListField(child=serializers.CharField(), read_only=True)
    expires_at = UnixTimeField()
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)

    class Meta:
        model = ServiceToken
        fields = [
            "token_id",
            "name",
            "description",
            "envs",
            "scope",
            "can_write",
            "expires_at",
            "revoked",
            "last_used_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_envs(self, obj: ServiceToken) -> list[str]:
        return obj.env_slugs()


class ServiceTokenCreatedSerializer(ServiceTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The raw token. Shown once, never again.")

    class Meta(ServiceTokenSerializer.Meta):
        fields = [*ServiceTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ServiceTokenCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, default="")
    envs = slug_list(required=False, default=list, help_text="Environment slugs; empty = all.")
    scope = scope_list(required=False, default=list, help_text="Scope tags; empty = all.")
    can_write = StrictBooleanField(required=False, default=False)
    expires_at = ExpiryField(required=False, default=None)


# ----------------------------------------------------------------------------------
# Audit


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(read_only=True)
    remote_addr = serializers.CharField(read_only=True, allow_null=True)
    detail = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "action",
            "key",
            "version",
            "actor",
            "username",
            "token_id",
            "remote_addr",
            "detail",
            "created_at",
        ]
        read_only_fields = fields


# ----------------------------------------------------------------------------------
# Errors (schema only)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField(
        required=False, help_text="On a check-and-set mismatch: the current version."
    )
