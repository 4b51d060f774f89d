"""Reading the audit trail, and replaying a conversation for QA: its messages interleaved, in
time order, with the desk's actions on it and the silences of each of its handoffs, so QA sees
where it stalled.

Read-only: nothing here writes (the trail is appended by :mod:`handoff.audit`). The silences
come from :func:`handoff.silence.handoff_silences`, the one rule the live alerts use too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Conversation, Database, Message
from handoff.audit import AuditAction
from handoff.audit_schemas import (
    ActionEvent,
    AuditEntryOut,
    AuditPage,
    MessageEvent,
    ReplayEvent,
    ReplayOut,
    SilenceEvent,
)
from handoff.card import transcript_entry
from handoff.errors import NotFound
from handoff.silence import handoff_silences
from handoff.tables import AuditEntry, Handoff
from handoff.timeutil import aware

MAX_PAGE_SIZE = 200
# a replay holds the latest this many messages (and actions): a conversation that long is a
# pathology (a bot loop, a years-long e-mail thread), and the page must stay renderable
REPLAY_LIMIT = 2000
# at one instant a message comes first, then the action it caused, then a silence it starts
_RANK = {"message": 0, "action": 1, "silence": 2}


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of ``GET /api/desk/audit``; None is "any". ``since`` is inclusive, ``until``
    exclusive; both aware."""

    agent: str | None = None  # the username the entry was written with
    action: AuditAction | None = None
    conversation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Replay:
    body: ReplayOut
    handoff_id: int | None  # the conversation's latest handoff (for the audit entry of the view)


class AuditViews:
    def __init__(self, db: Database, *, silence_alert_seconds: int) -> None:
        self._db = db
        self.silence_alert_seconds = silence_alert_seconds

    async def entries(self, query: AuditQuery, *, page: int = 1, page_size: int = 50) -> AuditPage:
        """One page of the trail, newest first; ``has_more`` from reading one row too many."""
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        statement = _filtered(select(AuditEntry), query).order_by(
            AuditEntry.at.desc(), AuditEntry.id.desc()
        ).offset((page - 1) * page_size).limit(page_size + 1)
        async with self._db.sessions() as session:
            rows = (await session.scalars(statement)).all()
        return AuditPage(
            entries=[_entry_out(row) for row in rows[:page_size]],
            page=page,
            page_size=page_size,
            has_more=len(rows) > page_size,
        )

    async def replay(self, conversation_id: str, *, now: datetime | None = None) -> Replay:
        """The conversation (its latest :data:`REPLAY_LIMIT` messages) with the actions and
        silences of that stretch, by time. :class:`NotFound` for an unknown conversation."""
        now = now or utcnow()
        async with self._db.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound("no such conversation")
            messages = list((await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id)
                .order_by(Message.id.desc()).limit(REPLAY_LIMIT + 1)
            )).all())
            truncated = len(messages) > REPLAY_LIMIT
            messages = messages[:REPLAY_LIMIT][::-1]
            # when cut, the replay is the latest stretch: actions and silences before it go too
            window = aware(messages[0].created_at) if truncated else None
            actions, cut = await _actions(session, conversation_id, window)
            truncated = truncated or cut
            handoffs = (await session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id)
            )).all()
            silences = [await self._silences(session, handoff, now) for handoff in handoffs]
        events: list[ReplayEvent] = [_message_event(m) for m in messages]
        events += [_action_event(a) for a in actions]
        events += [s for found in silences for s in found
                   if window is None or s.end is None or aware(s.end) >= window]
        events.sort(key=lambda e: (aware(e.at), _RANK[e.kind]))
        body = ReplayOut(
            conversation_id=conversation.id,
            channel=conversation.channel,
            lang=conversation.lang,
            state=conversation.state,
            silence_alert_seconds=self.silence_alert_seconds,
            truncated=truncated,
            events=events,
        )
        return Replay(body, handoffs[-1].id if handoffs else None)

    async def _silences(
        self, session: AsyncSession, handoff: Handoff, now: datetime
    ) -> list[SilenceEvent]:
        out: list[SilenceEvent] = []
        for silence in await handoff_silences(session, handoff):
            seconds = round(silence.seconds(now), 3)
            out.append(SilenceEvent(
                at=silence.start, end=silence.end, seconds=seconds, messages=silence.messages,
                ongoing=silence.end is None, long=seconds >= self.silence_alert_seconds,
                handoff_id=handoff.id,
            ))
        return out


def _filtered(statement: Select[Any], query: AuditQuery) -> Select[Any]:
    if query.agent is not None:
        statement = statement.where(AuditEntry.username == query.agent)
    if query.action is not None:
        statement = statement.where(AuditEntry.action == str(query.action))
    if query.conversation_id is not None:
        statement = statement.where(AuditEntry.conversation_id == query.conversation_id)
    if query.since is not None:
        statement = statement.where(AuditEntry.at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEntry.at < query.until)
    return statement


async def _actions(
    session: AsyncSession, conversation_id: str, since: datetime | None
) -> tuple[list[AuditEntry], bool]:
    """The conversation's latest ``REPLAY_LIMIT`` entries (since ``since``), oldest first, and
    whether there were more."""
    statement = select(AuditEntry).where(AuditEntry.conversation_id == conversation_id)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    rows = (await session.scalars(
        statement.order_by(AuditEntry.id.desc()).limit(REPLAY_LIMIT + 1)
    )).all()
    return list(rows[:REPLAY_LIMIT][::-1]), len(rows) > REPLAY_LIMIT


def _entry_out(row: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=row.id, at=row.at, agent=row.username, action=row.action,
        conversation_id=row.conversation_id, handoff_id=row.handoff_id, address=row.address,
        details=row.details,
    )


def _message_event(message: Message) -> MessageEvent:
    entry = transcript_entry(message)  # the desk's own reading of a message (agent, text)
    return MessageEvent(at=entry["at"], id=entry["id"], direction=entry["direction"],
                        sender=entry["sender"], agent=entry["agent"], text=entry["text"])


def _action_event(row: AuditEntry) -> ActionEvent:
    return ActionEvent(at=row.at, id=row.id, agent=row.username, action=row.action,
                       handoff_id=row.handoff_id, details=row.details)
