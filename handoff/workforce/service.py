"""The database side of workforce planning: the forecast beside the actuals, staffing per
interval, building and storing a week's shifts and reading them back. Swaps and time off are
in :mod:`handoff.workforce.trades` (``Workforce.swaps``, ``Workforce.time_off``).

Inputs:

* history: the handoffs' creation times of the 8 weeks before the forecast week's start (or
  before now, for a week already begun or to come): one query on ``ix_handoffs_created``;
* AHT (average handling time): the mean claim-to-close time of the handoffs closed in the
  last 28 days, *divided by* ``HANDOFF_AGENT_CONCURRENCY``: an agent works several chats at
  once, so one agent's capacity per contact is that share of the handling time. With fewer
  than 20 closed handoffs, ``HANDOFF_DEFAULT_HANDLE_MINUTES`` (divided alike) stands in;
* the target: ``WORKFORCE_SERVICE_LEVEL`` within ``HANDOFF_TARGET_SECONDS``, with
  ``WORKFORCE_SHRINKAGE`` and ``WORKFORCE_MAX_OCCUPANCY``.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import utcnow
from bot.storage import Database
from handoff.audit import Actor, AuditAction, AuditTrail
from handoff.errors import Conflict
from handoff.stats import zone as desk_zone
from handoff.tables import (
    Agent,
    Handoff,
    HandoffStatus,
    Role,
    ShiftStatus,
    ShiftSwap,
    SwapStatus,
    TimeOffRequest,
    TimeOffStatus,
    WorkforcePlan,
    WorkforceShift,
)
from handoff.timeutil import aware, seconds_between
from handoff.workforce.calendar import Calendar, load_calendar
from handoff.workforce.coverage import (
    STEP,
    scheduled,
    short_total,
    week_midnight,
    week_starts,
)
from handoff.workforce.forecast import forecast
from handoff.workforce.model import (
    DAYS_PER_WEEK,
    INTERVAL_MINUTES,
    PERIODS_PER_DAY,
    Assignment,
    ForecastPoint,
    ShiftKind,
    Staffing,
)
from handoff.workforce.roster import names_of, plan_required, shift_out, span, week_shifts
from handoff.workforce.scheduling import schedule_week
from handoff.workforce.schemas import (
    CoverageIntervalOut,
    ForecastOut,
    ForecastPointOut,
    MyShiftsOut,
    ScheduleOut,
    StaffingIntervalOut,
    StaffingOut,
    StaffingParams,
)
from handoff.workforce.shifts import load_shifts
from handoff.workforce.staffing import staff
from handoff.workforce.trades import Swaps, TimeOff

HISTORY = timedelta(weeks=8)
AHT_WINDOW = timedelta(days=28)
AHT_MIN_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class _Week:
    """A week's forecast and staffing, interval by interval."""

    starts: list[datetime]
    points: list[ForecastPoint]
    staffing: list[Staffing]
    params: StaffingParams


class Workforce:
    def __init__(
        self, db: Database, *, settings: Settings, calendar: Calendar | None = None,
        shifts: Sequence[ShiftKind] | None = None, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self.settings = settings
        self.zone = desk_zone(settings.desk_timezone)
        self._clock = clock
        self._calendar = calendar
        self._shifts = tuple(shifts) if shifts is not None else None
        self.swaps = Swaps(db, zone=self.zone, clock=clock)
        self.time_off = TimeOff(db, zone=self.zone, clock=clock)

    # the data files are read on first use, so a bad file names itself in the answer and the
    # rest of the desk keeps working
    @cached_property
    def calendar(self) -> Calendar:
        return self._calendar if self._calendar is not None else load_calendar()

    @cached_property
    def shift_kinds(self) -> tuple[ShiftKind, ...]:
        return self._shifts if self._shifts is not None else load_shifts()

    def now(self) -> datetime:
        return aware(self._clock())

    # -- inputs ------------------------------------------------------------------------------

    async def arrivals(self, since: datetime, until: datetime) -> list[datetime]:
        """Handoff creation times in [since, until), in order (``ix_handoffs_created``)."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(Handoff.created_at)
                .where(Handoff.created_at >= since, Handoff.created_at < until)
                .order_by(Handoff.created_at))
            return sorted(aware(at) for at in rows)  # the forecast and the counts bisect it

    async def aht_seconds(self, now: datetime | None = None) -> float:
        """Seconds of one agent's capacity a contact takes (see the module docstring)."""
        now = now or self.now()
        async with self._db.sessions() as session:
            rows = (await session.execute(
                select(Handoff.claimed_at, Handoff.ended_at).where(
                    Handoff.status == HandoffStatus.CLOSED, Handoff.claimed_at.is_not(None),
                    Handoff.ended_at >= now - AHT_WINDOW))).all()
        durations = [seconds_between(c, e) for c, e in rows if c is not None and e is not None]
        durations = [d for d in durations if d >= 0]
        handle = (sum(durations) / len(durations) if len(durations) >= AHT_MIN_SAMPLES
                  else self.settings.handoff_default_handle_minutes * 60)
        return round(max(handle, 1.0) / self.settings.handoff_agent_concurrency, 1)

    def params(self, aht_seconds: float) -> StaffingParams:
        s = self.settings
        return StaffingParams(
            service_level=s.workforce_service_level, target_seconds=s.handoff_target_seconds,
            aht_seconds=aht_seconds, shrinkage=s.workforce_shrinkage,
            max_occupancy=s.workforce_max_occupancy, interval_minutes=INTERVAL_MINUTES)

    # -- forecast and staffing ---------------------------------------------------------------

    async def _forecast(
        self, week: date, weeks: int, now: datetime
    ) -> tuple[list[ForecastPoint], list[datetime]]:
        """The points of ``weeks`` weeks from ``week`` and the arrivals inside them. The
        forecast learns from the 8 weeks before the first week began (or before now), so a
        past week shows what would have been expected."""
        start = week_midnight(week, self.zone)
        end = week_midnight(week + timedelta(weeks=weeks), self.zone).astimezone(UTC)
        cutoff = min(start.astimezone(UTC), now)
        arrivals = await self.arrivals(cutoff - HISTORY, min(end, now))
        learnt = arrivals[:bisect_right(arrivals, cutoff - timedelta(microseconds=1))]
        points = await asyncio.to_thread(
            forecast, learnt, start=start, weeks=weeks, zone=self.zone,
            calendar=self.calendar, now=cutoff)
        return points, arrivals

    async def forecast(self, week: date, weeks: int) -> ForecastOut:
        now = self.now()
        points, arrivals = await self._forecast(week, weeks, now)
        starts = [s for w in range(weeks) for s in week_starts(week + timedelta(weeks=w),
                                                                 self.zone)]
        ends = [*starts[1:], starts[-1] + STEP]
        out = []
        for start, end, point in zip(starts, ends, points, strict=False):
            actual = None
            if end <= now:
                actual = (bisect_right(arrivals, end - timedelta(microseconds=1))
                          - bisect_right(arrivals, start - timedelta(microseconds=1)))
            out.append(ForecastPointOut(start=start, forecast=round(point.contacts, 3),
                                        actual=actual, special=point.special))
        return ForecastOut(timezone=self.zone.key, interval_minutes=INTERVAL_MINUTES,
                           from_=week, weeks=weeks, points=out)

    def erlang(self, contacts: float, params: StaffingParams) -> Staffing:
        return staff(contacts, aht_seconds=params.aht_seconds,
                     target_seconds=params.target_seconds, service_level=params.service_level,
                     shrinkage=params.shrinkage, max_occupancy=params.max_occupancy,
                     interval_minutes=params.interval_minutes)

    def _staff_all(self, points: Sequence[ForecastPoint], params: StaffingParams) -> list[Staffing]:
        known: dict[float, Staffing] = {}  # quiet hours repeat the same few loads
        out = []
        for point in points:
            load = round(point.contacts, 3)
            if load not in known:
                known[load] = self.erlang(load, params)
            out.append(known[load])
        return out

    async def _week(self, week: date, now: datetime) -> _Week:
        params = self.params(await self.aht_seconds(now))
        points, _ = await self._forecast(week, 1, now)
        staffing = await asyncio.to_thread(self._staff_all, points, params)
        return _Week(week_starts(week, self.zone), points, staffing, params)

    async def staffing(self, week: date) -> StaffingOut:
        plan = await self._week(week, self.now())
        return StaffingOut(week=week, params=plan.params, intervals=[
            StaffingIntervalOut(start=start, contacts=round(s.contacts, 3),
                                raw_agents=s.raw_agents, agents=s.agents,
                                service_level=round(s.service_level, 4),
                                occupancy=round(s.occupancy, 4))
            for start, s in zip(plan.starts, plan.staffing, strict=True)
        ])

    # -- the schedule ------------------------------------------------------------------------

    async def build(self, week: date, actor: Actor) -> ScheduleOut:
        """Forecast, staff and schedule the week for the active agents with the role agent,
        and store it: the week's earlier shifts and their swaps are replaced (open swaps are
        cancelled in the audit trail first); shifts inside approved time off start "off"."""
        now = self.now()
        async with self._db.sessions() as session:
            agents = list(await session.scalars(
                select(Agent.id).where(Agent.active.is_(True), Agent.role == Role.AGENT)
                .order_by(Agent.id)))
        if not agents:
            raise Conflict("no active agents with the role agent to schedule: create some "
                           "(abonent agents create) first")
        kinds = {kind.name: kind for kind in self.shift_kinds}
        planned = await self._week(week, now)
        required = [[s.agents for s in planned.staffing[d * PERIODS_PER_DAY:
                                                         (d + 1) * PERIODS_PER_DAY]]
                    for d in range(DAYS_PER_WEEK)]
        made = await asyncio.to_thread(schedule_week, required, list(kinds.values()), agents)
        try:
            await self._store(week, actor, agents, planned, made.assignments, made.notes, now)
        except IntegrityError as exc:  # another build of the week committed first
            raise Conflict("the week was being built by someone else at the same time; "
                           "look at it, then build again if need be") from exc
        return await self.schedule(week)

    async def _store(self, week: date, actor: Actor, agents: list[int], planned: _Week,
                     assignments: Sequence[Assignment], notes: Sequence[str],
                     now: datetime) -> None:
        kinds = {kind.name: kind for kind in self.shift_kinds}
        async with self._db.transaction() as session:
            cancelled = await self._clear_week(session, week, actor)
            session.add(WorkforcePlan(
                week=week, created_at=now, created_by=actor.agent.id if actor.agent else None,
                params={**planned.params.model_dump(), "agents": len(agents),
                        "notes": list(notes[:20])},
                intervals=[{"start": start.isoformat(), "contacts": round(s.contacts, 3),
                            "required": s.agents}
                           for start, s in zip(planned.starts, planned.staffing, strict=True)]))
            away = list(await session.scalars(select(TimeOffRequest).where(
                TimeOffRequest.status == TimeOffStatus.APPROVED,
                TimeOffRequest.agent_id.in_(agents),
                TimeOffRequest.starts_at < planned.starts[-1] + timedelta(days=1),
                TimeOffRequest.ends_at > planned.starts[0] - timedelta(days=1))))
            rows = []
            for item in assignments:
                row = self._shift_row(week, item.agent_id, item.day, kinds[item.shift], now)
                work = span(row)
                if any(t.agent_id == row.agent_id and work.overlaps_period(t.starts_at, t.ends_at)
                       for t in away):
                    row.status = ShiftStatus.OFF
                rows.append(row)
            session.add_all(rows)
            await session.flush()
            AuditTrail.add(session, actor, AuditAction.SCHEDULE_PUBLISH, details={
                "week": week.isoformat(), "shifts": len(rows), "agents": len(agents),
                "cancelled_swaps": cancelled})

    async def _clear_week(self, session: AsyncSession, week: date, actor: Actor) -> list[int]:
        ids = select(WorkforceShift.id).where(WorkforceShift.week == week).scalar_subquery()
        touching = or_(ShiftSwap.shift_id.in_(ids), ShiftSwap.give_shift_id.in_(ids))
        open_ids = list(await session.scalars(
            select(ShiftSwap.id).where(touching, ShiftSwap.status.in_(SwapStatus.OPEN))
            .order_by(ShiftSwap.id)))
        for swap_id in open_ids:
            AuditTrail.add(session, actor, AuditAction.SWAP_CANCEL, details={
                "swap_id": swap_id, "because": "schedule_rebuilt", "week": week.isoformat()})
        await session.execute(delete(ShiftSwap).where(touching))
        await session.execute(delete(WorkforceShift).where(WorkforceShift.week == week))
        await session.execute(delete(WorkforcePlan).where(WorkforcePlan.week == week))
        return open_ids

    def _shift_row(self, week: date, agent_id: int, day: int, kind: ShiftKind,
                   now: datetime) -> WorkforceShift:
        local = datetime.combine(week + timedelta(days=day), kind.start, self.zone)
        starts = local.astimezone(UTC)
        breaks = [[(starts + timedelta(minutes=at)).isoformat(),
                   (starts + timedelta(minutes=at + length)).isoformat()]
                  for at, length in kind.breaks]
        return WorkforceShift(week=week, agent_id=agent_id, shift=kind.name, starts_at=starts,
                              ends_at=starts + timedelta(hours=kind.hours), breaks=breaks,
                              status=ShiftStatus.SCHEDULED, created_at=now)

    async def schedule(self, week: date) -> ScheduleOut:
        """The week's coverage against its requirement (stored with the plan; for a week
        never built, the live staffing) and its shifts."""
        starts = week_starts(week, self.zone)
        async with self._db.sessions() as session:
            plan = await session.get(WorkforcePlan, week)
            rows = await week_shifts(session, week)
            names = await names_of(session, (r.agent_id for r in rows))
        required = plan_required(plan)
        if required is None:
            required = [s.agents for s in (await self._week(week, self.now())).staffing]
        working = [r for r in rows if r.status == ShiftStatus.SCHEDULED]
        counts = scheduled((span(r) for r in working), starts)
        hours = sum(seconds_between(r.starts_at, r.ends_at) for r in working) / 3600
        return ScheduleOut(
            week=week, timezone=self.zone.key, interval_minutes=INTERVAL_MINUTES,
            published_at=aware(plan.created_at) if plan else None,
            intervals=[CoverageIntervalOut(start=s, required=r, scheduled=c)
                       for s, r, c in zip(starts, required, counts, strict=True)],
            shifts=[shift_out(r, names) for r in rows],
            short=short_total(required, counts), agent_hours=round(hours, 2))

    async def my_shifts(self, agent_id: int, week: date) -> MyShiftsOut:
        async with self._db.sessions() as session:
            rows = [r for r in await week_shifts(session, week) if r.agent_id == agent_id]
            names = await names_of(session, [agent_id])
        return MyShiftsOut(week=week, shifts=[shift_out(r, names) for r in rows])

