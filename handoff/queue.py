"""The queue as the database holds it: open handoffs, their order, positions and wait estimates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.priority import estimate_wait_minutes, priority
from handoff.tables import Agent, Handoff, HandoffStatus
from handoff.timeutil import aware, seconds_between

ONLINE_WINDOW = timedelta(minutes=5)  # an agent seen this recently is working now
HANDLE_HISTORY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    concurrency: int
    default_handle_minutes: float


def handoff_priority(handoff: Handoff, now: datetime) -> float:
    return priority(
        reason=handoff.reason,
        sentiment=handoff.sentiment or 0.0,
        waited_seconds=seconds_between(handoff.created_at, now),
    )


def ordered(waiting: list[Handoff], now: datetime) -> list[Handoff]:
    """Highest priority first; equal priorities by who came first."""
    return sorted(
        waiting, key=lambda h: (-handoff_priority(h, now), aware(h.created_at), h.id)
    )


async def open_handoffs(session: AsyncSession) -> list[Handoff]:
    return list(
        (
            await session.scalars(
                select(Handoff).where(Handoff.status.in_(HandoffStatus.OPEN)).order_by(Handoff.id)
            )
        ).all()
    )


async def current_handoff(session: AsyncSession, conversation_id: str) -> Handoff | None:
    """The conversation's latest handoff (open or not)."""
    latest: Handoff | None = await session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return latest


def offered_to_everyone(handoff: Handoff, now: datetime, fallback_seconds: float) -> bool:
    """A handoff that needs a skill is offered to everyone once it has waited this long."""
    return seconds_between(handoff.created_at, now) >= fallback_seconds


def matches(
    handoff: Handoff, agent_skills: Sequence[str] | None, now: datetime, *,
    fallback_seconds: float,
) -> bool:
    """Whether ``handoff`` is among the first an agent with ``agent_skills`` is offered: it
    needs no skill, the agent has it, the agent has no skills set (nothing to match), or it
    waited past the fallback."""
    return (
        handoff.skill is None
        or not agent_skills
        or handoff.skill in agent_skills
        or offered_to_everyone(handoff, now, fallback_seconds)
    )


def for_agent(
    waiting: Sequence[Handoff], agent_skills: Sequence[str] | None, now: datetime, *,
    fallback_seconds: float,
) -> list[tuple[Handoff, bool]]:
    """The waiting handoffs (already in priority order) as one agent is offered them: those
    matching the agent's skills first, then the rest; each group keeps the priority order.
    The rest stay visible (anyone may still claim them) so nothing hides from a busy team."""
    flagged = [(h, matches(h, agent_skills, now, fallback_seconds=fallback_seconds))
               for h in waiting]
    return [pair for pair in flagged if pair[1]] + [pair for pair in flagged if not pair[1]]


async def position_and_wait(
    session: AsyncSession, handoff: Handoff, policy: WaitPolicy, now: datetime
) -> tuple[int, int]:
    """The handoff's place in the queue (1 = next) and a wait estimate in minutes.

    A handoff that needs a skill waits for that skill's people: its place is among the
    handoffs of the same skill, and the capacity counts the online agents who take it (those
    with the skill, and those with no skills set, who take anything), at least one.
    """
    handoffs = await open_handoffs(session)
    skill = handoff.skill
    if skill is not None:
        handoffs = [h for h in handoffs if h.skill == skill]
    waiting = ordered([h for h in handoffs if h.status == HandoffStatus.WAITING], now)
    ids = [h.id for h in waiting]
    position = ids.index(handoff.id) + 1 if handoff.id in ids else len(ids) + 1
    if skill is None:
        active = sum(1 for h in handoffs if h.status == HandoffStatus.ACTIVE)
        online = await agents_online(session, now)
    else:
        takers = await agents_online_with(session, skill, now)
        # the conversations those agents hold now, whatever their skill
        active = sum(1 for h in await open_handoffs(session)
                     if h.status == HandoffStatus.ACTIVE and h.agent_id in takers)
        online = len(takers)
    handle = await average_handle_minutes(session, now) or policy.default_handle_minutes
    minutes = estimate_wait_minutes(
        position, agents_online=online, active_conversations=active,
        concurrency=policy.concurrency, handle_minutes=handle,
    )
    return position, minutes


async def agents_online(session: AsyncSession, now: datetime) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Agent).where(
            Agent.active.is_(True), Agent.last_seen_at >= now - ONLINE_WINDOW
        )
    )
    return int(count or 0)


async def agents_online_with(session: AsyncSession, skill: str, now: datetime) -> set[int]:
    """The ids of the online agents who take a handoff needing ``skill``. Skills are a JSON
    list, matched here rather than in SQL (the same on SQLite and PostgreSQL; a team is
    small)."""
    rows = await session.execute(
        select(Agent.id, Agent.skills).where(
            Agent.active.is_(True), Agent.last_seen_at >= now - ONLINE_WINDOW
        )
    )
    return {row.id for row in rows if not row.skills or skill in row.skills}


async def average_handle_minutes(session: AsyncSession, now: datetime) -> float | None:
    """Mean time from claim to close over the last week (the latest 500), or None."""
    rows = (
        await session.execute(
            select(Handoff.claimed_at, Handoff.ended_at)
            .where(
                Handoff.status == HandoffStatus.CLOSED,
                Handoff.claimed_at.is_not(None),
                Handoff.ended_at >= now - HANDLE_HISTORY,
            )
            .order_by(Handoff.id.desc())
            .limit(500)
        )
    ).all()
    durations = [seconds_between(c, e) / 60 for c, e in rows if c is not None and e is not None]
    if len(durations) < 3:
        return None
    return max(sum(durations) / len(durations), 0.5)
