"""Expiry as people type it on a command line.

Accepted forms (see ``parse_expiry``):

- a duration from now: ``30d``, ``12h``, ``15m``, ``2w``, ``1y``, ``90s``, or a sum
  such as ``1d12h`` (``y`` is 365 days, ``w`` 7 days);
- Unix seconds: ``1893456000``;
- ISO 8601: ``2030-01-01T00:00:00+02:00``, ``2030-01-01T00:00Z``, ``2030-01-01``;
  a timestamp without a timezone is UTC;
- ``never`` (or ``none``): no expiry.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86_400,
    "w": 7 * 86_400,
    "y": 365 * 86_400,
}
NEVER = frozenset({"never", "none"})

_DURATION = re.compile(r"(?:\d+[smhdwy])+")
_DURATION_PART = re.compile(r"(\d+)([smhdwy])")
_UNIX = re.compile(r"-?\d+")

FORMS = "a duration such as 30d, 12h, 15m, 2w or 1y, Unix seconds, an ISO 8601 timestamp, or 'never'"


class ExpiryError(ValueError):
    """The text is not an expiry, or names a moment that is not in the future."""


def parse_duration(text: str) -> dt.timedelta:
    """``30d`` -> 30 days. Raises ``ExpiryError`` for anything else."""
    text = text.strip()
    if not _DURATION.fullmatch(text):
        raise ExpiryError(f"{text!r} is not a duration; use a number and a unit: s, m, h, d, w or y.")
    seconds = sum(int(number) * UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        raise ExpiryError(f"The duration {text!r} is too long.") from None


def _from_unix(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(text), tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ExpiryError(f"The Unix time {text} is out of range.") from None


def _from_iso(text: str) -> dt.datetime | None:
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                return None
            moment = dt.datetime.combine(day, dt.time())
    except ValueError:
        # Well-formed but impossible, such as 2030-02-30.
        raise ExpiryError(f"{text!r} is not a valid date or time.") from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def parse_expiry(text: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The moment ``text`` names, timezone-aware, in whole seconds; ``None`` for ``never``.

    Raises ``ExpiryError`` when ``text`` is none of the accepted forms or the
    moment is not in the future.
    """
    now = now or timezone.now()
    text = text.strip()
    if text.lower() in NEVER:
        return None
    if _DURATION.fullmatch(text):
        try:
            moment = now + parse_duration(text)
        except OverflowError:
            raise ExpiryError(f"The duration {text!r} is too long.") from None
    elif _UNIX.fullmatch(text):
        moment = _from_unix(text)
    else:
        parsed = _from_iso(text)
        if parsed is None:
            raise ExpiryError(f"{text!r} is not an expiry; use {FORMS}.")
        moment = parsed
    moment = moment.astimezone(dt.timezone.utc).replace(microsecond=0)
    if moment <= now:
        raise ExpiryError(f"The expiry {moment.isoformat()} is not in the future.")
    return moment
