"""Name and value rules shared by the model, the API, the admin and the CLI."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from secretvault.conf import vault_settings

# The patterns' bodies, without anchors.
SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?"
KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,254}"
SCOPE_TAG_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"

# For the OpenAPI document only (ECMA-262, where ``$`` is the very end of the text).
# In Python ``$`` also matches before a final newline, which once let ``"KEY\n"``
# through as a key; Python code uses the validators below (``\A...\Z``), never these.
SLUG_RE = f"^{SLUG_PATTERN}$"
KEY_RE = f"^{KEY_PATTERN}$"
SCOPE_TAG_RE = f"^{SCOPE_TAG_PATTERN}$"


def whole(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled to match a whole string, so a trailing newline is refused (SPEC §8)."""
    return re.compile(rf"\A(?:{pattern})\Z")


validate_slug = RegexValidator(
    whole(SLUG_PATTERN),
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
    code="invalid_slug",
)
validate_key = RegexValidator(
    whole(KEY_PATTERN),
    "Use letters, digits and underscores, not starting with a digit (a valid environment "
    "variable name), at most 255 characters.",
    code="invalid_key",
)
validate_scope_tag = RegexValidator(
    whole(SCOPE_TAG_PATTERN),
    "Scope tags use letters, digits, '_', '.' and '-', start with a letter or digit, "
    "and are at most 64 characters.",
    code="invalid_scope",
)
_SCOPE_TAG = whole(SCOPE_TAG_PATTERN)


#: Most items a list-valued input may hold (scope tags, environments), from every door.
MAX_LIST_ITEMS = 100


def validate_scope(tags: Any) -> list[str]:
    """Return the scope as a sorted list of unique tags, or raise ``ValidationError``.

    At most ``MAX_LIST_ITEMS`` tags (issue #10, "every list-valued input has a bound").
    """
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise ValidationError("Scope must be a list of tags.", code="invalid_scope")
    cleaned: set[str] = set()
    for count, tag in enumerate(tags, start=1):
        if count > MAX_LIST_ITEMS:
            raise ValidationError(f"A scope holds at most {MAX_LIST_ITEMS} tags.", code="too_many")
        if not isinstance(tag, str) or not _SCOPE_TAG.fullmatch(tag):
            raise ValidationError(
                "Scope tags use letters, digits, '_', '.' and '-', start with a letter or "
                "digit, and are at most 64 characters.",
                code="invalid_scope",
            )
        cleaned.add(tag)
    return sorted(cleaned)


def validate_text(value: Any, *, max_length: int | None = None) -> str:
    """Check a free-text field (a name, a description): a string, no NUL, at most ``max_length``.

    Returns ``value`` unchanged; ``ValidationError`` otherwise, before any database sees it
    (PostgreSQL refuses NUL and over-long text with a ``DataError``; SQLite stores them).
    """
    if not isinstance(value, str):
        raise ValidationError("Must be a string.", code="invalid")
    if "\x00" in value:
        raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
    if max_length is not None and len(value) > max_length:
        raise ValidationError(f"At most {max_length} characters (this is {len(value)}).", code="max_length")
    return value


@sensitive_variables()
def validate_value(value: Any) -> str:
    """Check a secret value; error messages never include the value."""
    if not isinstance(value, str):
        raise ValidationError("The value must be a string.", code="invalid_value_type")
    if "\x00" in value:
        raise ValidationError("The value must not contain NUL characters.", code="nul_in_value")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError("The value must be valid Unicode text.", code="invalid_unicode") from None
    limit = vault_settings.MAX_VALUE_BYTES
    if size > limit:
        raise ValidationError(
            f"The value is {size} bytes of UTF-8; the limit is {limit}.", code="value_too_large"
        )
    return value


def truncate_to_second(moment: dt.datetime | None) -> dt.datetime | None:
    """Expiry is stored in whole seconds so it round-trips a Unix timestamp."""
    if moment is None:
        return None
    if timezone.is_naive(moment):
        raise ValidationError("Expiry must be timezone-aware.", code="naive_datetime")
    return moment.replace(microsecond=0)


def validate_future(moment: dt.datetime | None, now: dt.datetime | None = None) -> dt.datetime | None:
    moment = truncate_to_second(moment)
    if moment is not None and moment <= (now or timezone.now()):
        raise ValidationError("The expiry must lie in the future.", code="expiry_in_past")
    return moment


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Not given" for an optional argument of a write, where ``None`` is a value (e.g. "no expiry").
UNSET: Any = _Unset()


def field_errors(checks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run each check; return the cleaned values, or raise one ``ValidationError`` naming every field.

    ``checks`` maps a field name to a callable that returns the cleaned value or raises
    ``ValidationError``; the doors turn the error's dict into field errors (HTTP 400, form
    errors, one CLI line).
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return cleaned
