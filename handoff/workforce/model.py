"""The types workforce planning passes between forecast, staffing, scheduling and the service.

Time is cut into 30-minute intervals of local days (DESK_TIMEZONE); a week is Monday to Sunday,
so a week's requirement is 7 lists of 48 numbers (day 0 is Monday).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

INTERVAL_MINUTES = 30
PERIODS_PER_DAY = 24 * 60 // INTERVAL_MINUTES  # 48
DAYS_PER_WEEK = 7


class WorkforceDataError(ValueError):
    """A workforce data file (calendar.yml, shifts.yml) is wrong; the message names the file
    and the line."""


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """A holiday or a known event: contacts that day are the usual times ``1 + uplift``
    (``uplift`` 0.4 = 40% more; -0.5 = half)."""

    day: date
    name: str
    uplift: float


@dataclass(frozen=True, slots=True)
class ShiftKind:
    """A shift pattern from shifts.yml: starts at ``start`` (local), lasts ``hours``, with
    breaks (minutes after the start, length in minutes) when the agent is not available."""

    name: str
    start: time
    hours: float
    breaks: tuple[tuple[int, int], ...] = ()
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # the weekdays it may be worked (0 = Monday)


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    start: datetime  # the interval's start, aware (UTC)
    contacts: float  # expected handoffs in the interval
    special: str | None = None  # the special day's name, when one applies


@dataclass(frozen=True, slots=True)
class Staffing:
    """Erlang C for one interval. ``raw_agents`` answer the load at the target service level
    (capped by the maximum occupancy); ``agents`` is that grown by shrinkage (what to roster)."""

    contacts: float
    raw_agents: int
    agents: int
    service_level: float  # reached with ``raw_agents`` (0..1)
    occupancy: float  # of ``raw_agents`` (0..1)
    waiting_probability: float


@dataclass(frozen=True, slots=True)
class Assignment:
    agent_id: int
    day: int  # 0 = Monday of the week
    shift: str  # a ShiftKind name


@dataclass(slots=True)
class Schedule:
    assignments: list[Assignment]
    coverage: list[list[int]]  # [day][period]: agents working (breaks excluded)
    required: list[list[int]]  # [day][period]: what it had to cover
    short: int = 0  # agent-intervals below the requirement (not enough agents or shifts)
    agent_hours: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the solver could not do, in words
