"""Reading stored shifts for the workforce service: the shift object of the API, the agents'
names, a week's requirement and what removing some shifts would do to coverage."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.tables import Agent, ShiftStatus, WorkforcePlan, WorkforceShift
from handoff.timeutil import aware
from handoff.workforce.coverage import Short, Span, scheduled, shortfalls, week_starts
from handoff.workforce.schemas import ShiftOut, ShortOut

Names = dict[int, tuple[str, str]]  # agent id -> (username, display name)


async def names_of(session: AsyncSession, ids: Iterable[int | None]) -> Names:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Agent.id, Agent.username, Agent.display_name).where(Agent.id.in_(wanted)))
    return {row.id: (row.username, row.display_name or row.username) for row in rows}


def span(row: WorkforceShift) -> Span:
    return Span.of(row.starts_at, row.ends_at, row.breaks or [])


def shift_out(row: WorkforceShift, names: Names) -> ShiftOut:
    username, name = names.get(row.agent_id, (f"#{row.agent_id}", f"#{row.agent_id}"))
    work = span(row)
    return ShiftOut(id=row.id, agent=username, agent_name=name, shift=row.shift,
                    starts_at=work.starts_at, ends_at=work.ends_at, breaks=list(work.breaks),
                    status=row.status)


def short_out(items: Iterable[Short]) -> list[ShortOut]:
    return [ShortOut(start=s.start, required=s.required, scheduled_after=s.scheduled_after)
            for s in items]


async def week_shifts(session: AsyncSession, week: date) -> Sequence[WorkforceShift]:
    return (await session.scalars(
        select(WorkforceShift).where(WorkforceShift.week == week)
        .order_by(WorkforceShift.starts_at, WorkforceShift.id)
        .execution_options(populate_existing=True)  # statuses change by UPDATE statements
    )).all()


async def overlapping(
    session: AsyncSession, agent_id: int, start: datetime, end: datetime, *,
    statuses: Collection[str] = (ShiftStatus.SCHEDULED,),
) -> list[WorkforceShift]:
    """The agent's shifts (in ``statuses``) that overlap [start, end)."""
    return list((await session.scalars(
        select(WorkforceShift).where(
            WorkforceShift.agent_id == agent_id, WorkforceShift.status.in_(statuses),
            WorkforceShift.starts_at < aware(end), WorkforceShift.ends_at > aware(start),
        ).order_by(WorkforceShift.starts_at).execution_options(populate_existing=True)
    )).all())


def plan_required(plan: WorkforcePlan | None) -> list[int] | None:
    if plan is None or len(plan.intervals or []) != 336:
        return None
    return [int(item.get("required", 0)) for item in plan.intervals]


async def impact(
    session: AsyncSession, zone: ZoneInfo, removed: Sequence[WorkforceShift]
) -> list[Short]:
    """The intervals that taking ``removed`` off the schedule would make worse and leave below
    the stored requirement of their week (a week never planned requires nothing)."""
    gone = {row.id for row in removed}
    found: list[Short] = []
    for week in sorted({row.week for row in removed}):
        required = plan_required(await session.get(WorkforcePlan, week))
        if required is None:
            continue
        starts = week_starts(week, zone)
        rows = [r for r in await week_shifts(session, week) if r.status == ShiftStatus.SCHEDULED]
        before = scheduled((span(r) for r in rows), starts)
        after = scheduled((span(r) for r in rows if r.id not in gone), starts)
        found.extend(shortfalls(starts, required, before, after))
    return found
