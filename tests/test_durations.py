"""Expiry parsing for the command line: durations, Unix seconds, ISO 8601."""

from __future__ import annotations

import datetime as dt

import pytest

from secretvault.durations import ExpiryError, parse_duration, parse_expiry

NOW = dt.datetime(2030, 1, 1, 12, 0, 0, 500_000, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", dt.timedelta(days=30)),
        ("12h", dt.timedelta(hours=12)),
        ("15m", dt.timedelta(minutes=15)),
        ("90s", dt.timedelta(seconds=90)),
        ("2w", dt.timedelta(weeks=2)),
        ("1y", dt.timedelta(days=365)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        (" 7d ", dt.timedelta(days=7)),
    ],
)
def test_durations_count_from_now_in_whole_seconds(text: str, delta: dt.timedelta) -> None:
    assert parse_duration(text) == delta
    assert parse_expiry(text, now=NOW) == (NOW + delta).replace(microsecond=0)


def test_unix_seconds() -> None:
    assert parse_expiry("1893456000", now=NOW.replace(year=2029)) == dt.datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2031-02-03T04:05:06Z", dt.datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("2031-02-03T04:05:06+02:00", dt.datetime(2031, 2, 3, 2, 5, 6, tzinfo=UTC)),
        ("2031-02-03T04:05:06", dt.datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)),  # no zone: UTC
        ("2031-02-03 04:05:06.999", dt.datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("2031-02-03", dt.datetime(2031, 2, 3, tzinfo=UTC)),
    ],
)
def test_iso_8601(text: str, expected: dt.datetime) -> None:
    moment = parse_expiry(text, now=NOW)
    assert moment == expected
    assert moment is not None and moment.tzinfo is not None


@pytest.mark.parametrize("text", ["never", "NONE", " never "])
def test_never_means_no_expiry(text: str) -> None:
    assert parse_expiry(text, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0d", "not in the future"),
        ("1893456000", "not in the future"),  # 2030-01-01T00:00Z, before NOW
        ("-5", "not in the future"),
        ("2029-12-31T23:59:59Z", "not in the future"),
        ("2030-01-01T12:00:00Z", "not in the future"),  # NOW, truncated: not after it
        ("30x", "not an expiry"),
        ("30D", "not an expiry"),
        ("d30", "not an expiry"),
        ("", "not an expiry"),
        ("tomorrow", "not an expiry"),
        ("2030-02-30", "not a valid date"),
        ("99999999999999999999", "out of range"),
        ("99999999999999999999y", "too long"),
    ],
)
def test_rejects(text: str, message: str) -> None:
    with pytest.raises(ExpiryError, match=message):
        parse_expiry(text, now=NOW)


def test_default_now_is_the_current_time() -> None:
    moment = parse_expiry("1h")
    assert moment is not None
    assert dt.timedelta(minutes=59) < moment - dt.datetime.now(UTC) <= dt.timedelta(hours=1)
