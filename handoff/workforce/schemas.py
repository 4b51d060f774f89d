"""Bodies of ``/api/desk/workforce/...`` (WORKFORCE_API contract). Times are UTC with their
offset; a ``week`` is the ISO date of its Monday in DESK_TIMEZONE."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
)

from handoff.schemas import UtcDateTime

MAX_TIME_OFF = timedelta(days=31)
MAX_REASON = 500


def _instant(value: datetime) -> datetime:
    """An input time as UTC (naive: UTC); the calendar's edges are a 422, not an overflow."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("a time out of range") from None


InstantIn = Annotated[datetime, AfterValidator(_instant)]


class ShiftOut(BaseModel):
    id: int
    agent: str = Field(description="the agent's username")
    agent_name: str
    shift: str = Field(description="the shift pattern's name in handoff/data/shifts.yml")
    starts_at: UtcDateTime
    ends_at: UtcDateTime
    breaks: list[tuple[UtcDateTime, UtcDateTime]]
    status: str = Field(description="scheduled | swapped (given away or released by a swap) "
                                    "| off (approved time off)")


class ForecastPointOut(BaseModel):
    start: UtcDateTime
    forecast: float = Field(description="expected handoffs in the 30 minutes")
    actual: int | None = Field(description="handoffs that came; null until the interval is over")
    special: str | None = Field(description="the special day (handoff/data/calendar.yml)")


class ForecastOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    timezone: str
    interval_minutes: int
    from_: date = Field(alias="from", description="the first week's Monday")
    weeks: int
    points: list[ForecastPointOut]


class StaffingParams(BaseModel):
    service_level: float
    target_seconds: float
    aht_seconds: float = Field(description="handling time per contact of one agent's capacity: "
                                           "claim-to-close divided by the chats an agent runs "
                                           "at once")
    shrinkage: float
    max_occupancy: float
    interval_minutes: int


class StaffingIntervalOut(BaseModel):
    start: UtcDateTime
    contacts: float
    raw_agents: int = Field(description="Erlang C at the target (occupancy capped)")
    agents: int = Field(description="raw_agents grown by shrinkage: what to roster")
    service_level: float
    occupancy: float


class StaffingOut(BaseModel):
    week: date
    params: StaffingParams
    intervals: list[StaffingIntervalOut]


class ErlangOut(BaseModel):
    raw_agents: int
    agents: int
    service_level: float
    occupancy: float
    waiting_probability: float


class CoverageIntervalOut(BaseModel):
    start: UtcDateTime
    required: int
    scheduled: int = Field(description="agents on a scheduled shift and not on a break")


class ScheduleOut(BaseModel):
    week: date
    timezone: str
    interval_minutes: int
    published_at: UtcDateTime | None = Field(description="null: the week was never built")
    intervals: list[CoverageIntervalOut]
    shifts: list[ShiftOut]
    short: int = Field(description="agent-intervals below the requirement")
    agent_hours: float = Field(description="hours of the scheduled shifts, breaks included")


class MyShiftsOut(BaseModel):
    week: date
    shifts: list[ShiftOut]


class ShortOut(BaseModel):
    start: UtcDateTime
    required: int
    scheduled_after: int


class SwapOut(BaseModel):
    id: int
    status: str = Field(description="offered | accepted | approved | refused | cancelled")
    shift: ShiftOut = Field(description="the offered shift")
    give_shift: ShiftOut | None = Field(description="the accepter's shift given in return")
    offered_by: str
    accepted_by: str | None
    coverage_ok: bool | None = Field(description="after the swap, as checked on acceptance")
    impact: list[ShortOut] = Field(description="while accepted: the intervals the swap would "
                                               "leave below the requirement")
    created_at: UtcDateTime
    decided_at: UtcDateTime | None
    decided_by: str | None = Field(description="a supervisor's username, or \"automatic\"")


class SwapsOut(BaseModel):
    items: list[SwapOut]


class SwapIn(BaseModel):
    shift_id: StrictInt = Field(ge=1, le=2**62)


class AcceptIn(BaseModel):
    give_shift_id: StrictInt | None = Field(
        None, ge=1, le=2**62,
        description="one of your shifts the offering agent takes in return; null: you only "
                    "take theirs")


class TimeOffImpact(BaseModel):
    shifts: int = Field(description="the agent's shifts it touches")
    short: list[ShortOut] = Field(description="intervals it would leave below the requirement")


class TimeOffOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    agent: str
    from_: UtcDateTime = Field(alias="from")
    to: UtcDateTime
    reason: str | None
    status: str = Field(description="requested | approved | refused")
    impact: TimeOffImpact
    created_at: UtcDateTime
    decided_at: UtcDateTime | None
    decided_by: str | None


class TimeOffsOut(BaseModel):
    items: list[TimeOffOut]


class TimeOffIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: InstantIn = Field(alias="from", description="ISO 8601; without an offset: UTC")
    to: InstantIn
    reason: StrictStr | None = Field(None, max_length=MAX_REASON)

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        if self.to - self.from_ > MAX_TIME_OFF:
            raise ValueError("time off is at most 31 days a request; send several")
        if self.reason is not None:
            # PostgreSQL cannot store NUL; other control characters are noise
            self.reason = "".join(ch for ch in self.reason if ch >= " " or ch in "\n\t") or None
        return self
