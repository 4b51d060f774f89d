"""Time helpers: everything is UTC; SQLite hands datetimes back without a zone."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def seconds_between(start: datetime, end: datetime) -> float:
    return (aware(end) - aware(start)).total_seconds()
