"""Silences: how long a subscriber with a handoff waited for a person's answer. One rule for the
live alerts, the stored longest silence (search) and the replay.

A silence starts at the escalation (the subscriber asked for, or was sent to, a person) or at the
subscriber's first message after an agent's reply, and ends at the next agent's reply (a
supervisor's counts: they are people too), or at the end of the handoff. The bot's automatic
lines (queue position, "message passed on") answer nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reasons import Reason
from bot.storage import Message
from handoff.tables import Handoff
from handoff.timeutil import aware, seconds_between

SUBSCRIBER = "in"  # an inbound message
AGENT = "agent"  # a reply written by a person in the desk


@dataclass(frozen=True, slots=True)
class Silence:
    start: datetime
    end: datetime | None  # None: still waiting
    messages: int  # the subscriber's messages in it (the escalating one counts)

    def seconds(self, now: datetime) -> float:
        return seconds_between(self.start, self.end or now)


def silences(
    escalated_at: datetime,
    events: Iterable[tuple[datetime, str]],
    *,
    ended_at: datetime | None = None,
    waiting_from_start: bool = True,
) -> list[Silence]:
    """The silences of one handoff, oldest first; ``events`` are ``(at, SUBSCRIBER|AGENT)`` in
    time order (anything else is ignored, as is anything before the escalation or after the
    end). ``waiting_from_start`` is False when nobody asked for a person (a supervisor joined
    a conversation the bot held)."""
    start: datetime | None = aware(escalated_at) if waiting_from_start else None
    count = 1 if waiting_from_start else 0
    end = aware(ended_at) if ended_at is not None else None
    found: list[Silence] = []
    for at, kind in events:
        at = aware(at)
        if at < aware(escalated_at) and kind == AGENT:
            continue
        if end is not None and at > end:
            break
        if kind == AGENT:
            if start is not None:
                found.append(Silence(start, at, count))
            start, count = None, 0
        elif kind == SUBSCRIBER and at >= aware(escalated_at):
            if start is None:
                start = at
            count += 1
    if start is not None:
        found.append(Silence(start, end, count))
    return found


def longest_ended(found: Iterable[Silence], now: datetime) -> float | None:
    """The longest silence that ended (by a reply, or with the handoff), in seconds."""
    lengths = [s.seconds(now) for s in found if s.end is not None]
    return round(max(lengths), 3) if lengths else None


def ongoing(found: list[Silence]) -> Silence | None:
    return found[-1] if found and found[-1].end is None else None


async def handoff_silences(
    session: AsyncSession, handoff: Handoff, *, ended_at: datetime | None = None
) -> list[Silence]:
    """The silences of a stored handoff, read from its conversation's messages since the
    escalation (within the caller's transaction, so a reply just written counts)."""
    rows = await session.execute(
        select(Message.created_at, Message.direction, Message.sender)
        .where(Message.conversation_id == handoff.conversation_id,
               Message.created_at >= handoff.created_at)
        .order_by(Message.id)
    )
    events = [(at, event_kind(direction, sender)) for at, direction, sender in rows]
    return silences_of(handoff, events, ended_at=ended_at)


def event_kind(direction: str, sender: str) -> str:
    """What a stored message is to the rule: the subscriber's, a person's reply, or a bot's
    line (which answers nothing)."""
    return SUBSCRIBER if direction == "in" else AGENT if sender == "agent" else ""


def silences_of(
    handoff: Handoff, events: Iterable[tuple[datetime, str]], *, ended_at: datetime | None = None
) -> list[Silence]:
    """The silences of a stored handoff from its messages' events (read by the caller, e.g.
    for many handoffs in one query)."""
    return silences(handoff.created_at, events, ended_at=ended_at or handoff.ended_at,
                    waiting_from_start=handoff.reason != Reason.SUPERVISOR_JOINED)


async def remember_silences(
    session: AsyncSession, handoff: Handoff, now: datetime, *, ended_at: datetime | None = None
) -> None:
    """Store the handoff's longest silence that has ended (searchable as "silence over N
    seconds"); called when an agent replies and when the handoff ends."""
    longest = longest_ended(await handoff_silences(session, handoff, ended_at=ended_at), now)
    if longest is not None:
        handoff.longest_silence_seconds = longest
