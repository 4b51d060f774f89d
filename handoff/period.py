"""A period in a query string (``from``/``to`` of the audit trail and the search): a day
(``2026-11-30``, that calendar day in ``DESK_TIMEZONE``) or an ISO 8601 date and time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import HTTPException, status
from pydantic import BeforeValidator

from handoff.timeutil import aware


def _date_or_time(value: object) -> object:
    """``2026-11-30`` is a day; anything longer an ISO 8601 date and time."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an ISO 8601 date (2026-11-30) or date and time "
                         "(2026-11-30T08:00:00Z)") from None


DateOrTime = Annotated[datetime | date, BeforeValidator(_date_or_time)]


def bound(value: datetime | date | None, zone: ZoneInfo, *, end: bool) -> datetime | None:
    """A filter's bound as an aware UTC instant: ``from`` inclusive, ``to`` exclusive. A date
    is that calendar day in the desk's time zone (as "today" in the stats), and ``to`` takes
    the whole day; a date and time without an offset is UTC, like every time of the API."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            moment = aware(value).astimezone(UTC)
            return moment + timedelta(microseconds=1) if end else moment
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time(), zone).astimezone(UTC)
    except OverflowError:  # the edges of the calendar (9999-12-31, 0001-01-01 with an offset)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="a date out of range") from None


def period(
    start: datetime | date | None, end: datetime | date | None, timezone: str
) -> tuple[datetime | None, datetime | None]:
    """``from`` and ``to`` as UTC instants ([from, to)); 422 when ``from`` is not before
    ``to``."""
    zone = ZoneInfo(timezone)
    since, until = bound(start, zone, end=False), bound(end, zone, end=True)
    if since is not None and until is not None and since >= until:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="'from' must be before 'to'")
    return since, until
