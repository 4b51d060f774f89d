"""Contacts per 30-minute interval for the coming weeks, from the stored history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from handoff.workforce.calendar import Calendar
from handoff.workforce.model import ForecastPoint


def forecast(
    arrivals: Sequence[datetime], *, start: datetime, weeks: int, zone: ZoneInfo,
    calendar: Calendar, now: datetime,
) -> list[ForecastPoint]:
    """``weeks`` x 7 x 48 points from ``start`` (a local Monday midnight, aware): the expected
    handoffs per interval, learnt from ``arrivals`` (the handoffs' creation times before
    ``now``), with the special days' uplift."""
    raise NotImplementedError
