"""Time in one form: naive UTC datetimes in the database, RFC 3339 `…Z` in JSON."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(dt: datetime | None) -> str | None:
    """A naive UTC datetime as RFC 3339 with microseconds and `Z`."""
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
