"""Coverage maths on stored shifts: which of a week's 336 intervals each shift works, how many
agents work each interval, and where a change would leave an interval short.

A week is 7 local days (DESK_TIMEZONE) of 48 intervals, each named by its local wall-clock
start (Monday 00:00, 00:30, ...) and held as that instant in UTC. A shift works an interval
when the interval starts inside the shift and outside its breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff.timeutil import aware
from handoff.workforce.model import DAYS_PER_WEEK, INTERVAL_MINUTES, PERIODS_PER_DAY

INTERVALS_PER_WEEK = DAYS_PER_WEEK * PERIODS_PER_DAY  # 336
STEP = timedelta(minutes=INTERVAL_MINUTES)


def monday(day: date) -> date:
    """The Monday of ``day``'s week (a non-Monday date means its week)."""
    return day - timedelta(days=day.weekday())


def local_monday(now: datetime, zone: ZoneInfo) -> date:
    return monday(aware(now).astimezone(zone).date())


def week_midnight(week: date, zone: ZoneInfo) -> datetime:
    """The week's Monday 00:00 local, aware (in ``zone``)."""
    return datetime.combine(monday(week), time(), zone)


def week_starts(week: date, zone: ZoneInfo) -> list[datetime]:
    """The 336 interval starts of the week, in time order, as UTC instants."""
    first = monday(week)
    return [
        datetime.combine(first + timedelta(days=day), time(period // 2, 30 * (period % 2)),
                         zone).astimezone(UTC)
        for day in range(DAYS_PER_WEEK) for period in range(PERIODS_PER_DAY)
    ]


@dataclass(frozen=True, slots=True)
class Span:
    """When a shift's agent works: from ``starts_at`` to ``ends_at`` but for the breaks."""

    starts_at: datetime
    ends_at: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()

    @classmethod
    def of(cls, starts_at: datetime, ends_at: datetime, breaks: Iterable[Sequence[str]]) -> Span:
        return cls(aware(starts_at), aware(ends_at), tuple(
            (aware(datetime.fromisoformat(b[0])), aware(datetime.fromisoformat(b[1])))
            for b in breaks
        ))

    def works(self, moment: datetime) -> bool:
        if not self.starts_at <= moment < self.ends_at:
            return False
        return not any(start <= moment < end for start, end in self.breaks)

    def overlaps(self, other: Span) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def overlaps_period(self, start: datetime, end: datetime) -> bool:
        return self.starts_at < aware(end) and aware(start) < self.ends_at


def worked(span: Span, starts: Sequence[datetime]) -> list[int]:
    """The indexes of ``starts`` (in time order) the span works."""
    return [i for i, moment in enumerate(starts)
            if span.starts_at <= moment < span.ends_at and span.works(moment)]


def scheduled(spans: Iterable[Span], starts: Sequence[datetime]) -> list[int]:
    """Agents working each interval of ``starts``."""
    counts = [0] * len(starts)
    for span in spans:
        for i in worked(span, starts):
            counts[i] += 1
    return counts


@dataclass(frozen=True, slots=True)
class Short:
    start: datetime
    required: int
    scheduled_after: int


def shortfalls(
    starts: Sequence[datetime], required: Sequence[int], before: Sequence[int],
    after: Sequence[int],
) -> list[Short]:
    """The intervals a change makes worse *and* leaves below the requirement. An interval
    that was already short and stays as it was is not the change's doing, so it is not
    listed (an understaffed week must not block every swap)."""
    return [
        Short(starts[i], required[i], after[i])
        for i in range(len(starts))
        if after[i] < before[i] and after[i] < required[i]
    ]


def short_total(required: Sequence[int], counts: Sequence[int]) -> int:
    """Agent-intervals below the requirement."""
    return sum(max(0, need - have) for need, have in zip(required, counts, strict=True))
