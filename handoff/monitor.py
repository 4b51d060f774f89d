"""The live monitor and its alerts: every open conversation as a supervisor watches it.

Open means: a handoff waiting or with an agent (``handoff/queue.py``), or a conversation the bot
holds (state ``bot``, or closed and waiting for the rating) that had a message within
``MONITOR_BOT_IDLE_MINUTES`` and has no open handoff. Everything is derived from the data on
every read, so an alert closes itself the moment the agent answers.

A snapshot costs a fixed number of queries however many conversations are open: the open
handoffs, their conversations and the bot's (one query), the latest messages of all of them
(one, with window functions), the messages since each escalation (one) and the agents' names
(one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Conversation, ConversationState, Database, Identity, Message
from handoff.card import identity_view, notes_of, transcript_entry, transcripts
from handoff.desk_hooks import AWAITING_RATING
from handoff.errors import NotFound
from handoff.monitor_schemas import (
    Alert,
    AlertKind,
    AlertsOut,
    Direction,
    LastLine,
    MonitorIdentity,
    MonitorNote,
    MonitorOut,
    MonitorRow,
    ReadOnlyConversation,
    RowState,
    SentimentTrend,
)
from handoff.queue import current_handoff, open_handoffs
from handoff.schemas import TranscriptEntry
from handoff.sentiment import analyse, label_for
from handoff.silence import Silence, event_kind, ongoing, silences_of
from handoff.tables import Agent, Handoff, HandoffStatus
from handoff.timeutil import aware, seconds_between
from knowledge_base import KnowledgeBase

BOT: RowState = "bot"
WAITING: RowState = "waiting"
WITH_AGENT: RowState = "with_agent"
ROW_STATES: tuple[RowState, ...] = (BOT, WAITING, WITH_AGENT)

SILENCE: AlertKind = "silence"
SLA: AlertKind = "sla"
UNANSWERED: AlertKind = "unanswered_messages"

LAST_LINES = 3
SENTIMENT_MESSAGES = 5
TREND_STEP = 1.0  # a change of a whole point between the first and the latest is a trend
UNANSWERED_ALERT_MESSAGES = 3
READ_ONLY_TRANSCRIPT = 200


@dataclass(frozen=True, slots=True)
class MonitorFilter:
    """Which rows to show; an empty set lets everything through."""

    states: frozenset[str] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)
    agents: frozenset[str] = field(default_factory=frozenset)

    def keeps(self, row: MonitorRow) -> bool:
        return (
            (not self.states or row.state in self.states)
            and (not self.channels or row.channel in self.channels)
            and (not self.agents or (row.agent is not None and row.agent in self.agents))
        )


def risk(
    *,
    silence_seconds: float,
    waiting_seconds: float,
    latest_sentiment: float | None,
    unanswered_messages: int,
    alerts: int,
    silence_alert_seconds: float,
    target_seconds: float,
) -> float:
    """How urgently a supervisor should look, higher first::

        risk = silence / SILENCE_ALERT_SECONDS      (the ongoing silence, 0 without one)
             + waiting / HANDOFF_TARGET_SECONDS     (only while still in the queue)
             + max(0, -latest sentiment) / 4        (-4, strongly negative, adds 1)
             + unanswered messages / 3
             + 1 per alert

    So each term reaches 1 at its own threshold, and an alert on top makes any conversation
    that crossed one outrank every conversation that has not."""
    value = (
        silence_seconds / max(silence_alert_seconds, 1.0)
        + waiting_seconds / max(target_seconds, 1.0)
        + max(0.0, -(latest_sentiment or 0.0)) / 4
        + unanswered_messages / UNANSWERED_ALERT_MESSAGES
        + alerts
    )
    return round(value, 3)


def sentiment_trend(texts: Sequence[str]) -> SentimentTrend:
    """The scores of the subscriber's latest messages (oldest first) and where they head."""
    scores = [analyse(text or "").score for text in texts[-SENTIMENT_MESSAGES:]]
    latest = scores[-1] if scores else None
    direction: Direction = "steady"
    if len(scores) >= 2:
        change = scores[-1] - scores[0]
        if change <= -TREND_STEP:
            direction = "falling"
        elif change >= TREND_STEP:
            direction = "rising"
    return SentimentTrend(trend=scores, latest=latest, label=label_for(latest or 0.0),
                          direction=direction)


@dataclass(slots=True)
class _Messages:
    """What one conversation's latest messages say."""

    last: list[Message] = field(default_factory=list)  # newest first while collecting
    inbound: list[str] = field(default_factory=list)  # newest first while collecting

    @property
    def last_at(self) -> datetime | None:
        return self.last[0].created_at if self.last else None


class Monitor:
    def __init__(self, db: Database, *, kb: KnowledgeBase, silence_alert_seconds: int,
                 target_seconds: int, bot_idle_minutes: float) -> None:
        self._db = db
        self._kb = kb
        self.silence_alert_seconds = silence_alert_seconds
        self.target_seconds = target_seconds
        self.bot_idle_minutes = bot_idle_minutes

    # -- the routes' reads -----------------------------------------------------------------

    async def snapshot(self, filters: MonitorFilter | None = None) -> MonitorOut:
        """The monitor: the rows the filters keep, and every alert (an alert is never hidden
        by a filter: it is what the supervisor must not miss)."""
        now = utcnow()
        async with self._db.sessions() as session:
            rows, alerts = await self._read(session, now)
        keep = filters or MonitorFilter()
        return MonitorOut(
            generated_at=now,
            silence_alert_seconds=self.silence_alert_seconds,
            target_seconds=self.target_seconds,
            conversations=[row for row in rows if keep.keeps(row)],
            alerts=alerts,
        )

    async def alerts(self) -> AlertsOut:
        now = utcnow()
        async with self._db.sessions() as session:
            handoffs = _latest_per_conversation(await open_handoffs(session))
            events = await _events_since_escalation(session, handoffs)
            names = await _usernames(session, handoffs)
        found = [alert for h in handoffs
                 for alert in self._alerts(h, _silence(h, events), names, now)]
        return AlertsOut(generated_at=now, alerts=_ordered(found))

    async def conversation(self, conversation_id: str) -> ReadOnlyConversation:
        """Any conversation, read-only: the bot's too. Never a phone number."""
        async with self._db.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound("no such conversation")
            handoff = await current_handoff(session, conversation_id)
            identity = await session.get(Identity, conversation.identity_id)
            texts = await transcripts(session, [conversation_id], limit=READ_ONLY_TRANSCRIPT)
            notes = await notes_of(session, conversation_id)
            names = await _usernames(session, [handoff] if handoff is not None else [])
        return ReadOnlyConversation(
            conversation_id=conversation.id,
            channel=conversation.channel,
            lang=conversation.lang or (handoff.lang if handoff is not None else None),
            state=conversation.state,
            handoff_id=handoff.id if handoff is not None else None,
            status=handoff.status if handoff is not None else None,
            agent=_name(names, handoff.agent_id) if handoff is not None else None,
            supervisor=_name(names, handoff.supervisor_id) if handoff is not None else None,
            identity=_identity(identity),
            transcript=[TranscriptEntry.model_validate(e) for e in texts[conversation_id]],
            notes=[MonitorNote(id=note.id, agent=name, text=note.text, at=note.created_at,
                               kind=note.kind) for note, name in notes],
        )

    # -- building the rows -----------------------------------------------------------------

    async def _read(self, session: AsyncSession, now: datetime) -> tuple[list[MonitorRow],
                                                                          list[Alert]]:
        handoffs = _latest_per_conversation(await open_handoffs(session))
        held = {h.conversation_id for h in handoffs}
        cutoff = now - timedelta(minutes=self.bot_idle_minutes)
        conversations = await _conversations(session, held, cutoff)
        messages = await _latest_messages(session, conversations)
        events = await _events_since_escalation(session, handoffs)
        names = await _usernames(session, handoffs)

        rows: list[MonitorRow] = []
        every_alert: list[Alert] = []
        for handoff in handoffs:
            conversation = conversations.get(handoff.conversation_id)
            silence = _silence(handoff, events)
            alerts = self._alerts(handoff, silence, names, now)
            every_alert += alerts
            rows.append(self._handoff_row(handoff, conversation, silence, alerts, names,
                                          messages.get(handoff.conversation_id, _Messages()),
                                          now))
        for conversation in conversations.values():
            if conversation.id in held:
                continue
            seen = messages.get(conversation.id, _Messages())
            last_at = seen.last_at
            if last_at is None or aware(last_at) < aware(cutoff):
                continue  # idle: the bot's conversations are shown while they move
            rows.append(self._bot_row(conversation, seen))
        rows.sort(key=lambda r: (-r.risk, aware(r.started_at), r.conversation_id))
        return rows, _ordered(every_alert)

    def _handoff_row(
        self, handoff: Handoff, conversation: Conversation | None, silence: Silence | None,
        alerts: list[Alert], names: Mapping[int, str], seen: _Messages, now: datetime,
    ) -> MonitorRow:
        waiting = handoff.status == HandoffStatus.WAITING
        if waiting:
            waiting_seconds: float | None = seconds_between(handoff.created_at, now)
        elif handoff.claimed_at is not None:
            waiting_seconds = seconds_between(handoff.created_at, handoff.claimed_at)
        else:
            waiting_seconds = None
        trend = sentiment_trend(list(reversed(seen.inbound)))
        silence_seconds = silence.seconds(now) if silence is not None else None
        unanswered = silence.messages if silence is not None else 0
        return MonitorRow(
            conversation_id=handoff.conversation_id,
            handoff_id=handoff.id,
            channel=handoff.channel,
            lang=(conversation.lang if conversation is not None else None) or handoff.lang,
            state=WAITING if waiting else WITH_AGENT,
            agent=_name(names, handoff.agent_id),
            supervisor=_name(names, handoff.supervisor_id),
            started_at=conversation.created_at if conversation is not None else handoff.created_at,
            last_message_at=seen.last_at,
            waiting_seconds=_rounded(waiting_seconds),
            sla_breached=waiting and (waiting_seconds or 0.0) > self.target_seconds,
            unanswered_seconds=_rounded(silence_seconds),
            unanswered_messages=unanswered,
            sentiment=trend,
            last_lines=_last_lines(seen),
            risk=risk(
                silence_seconds=silence_seconds or 0.0,
                waiting_seconds=(waiting_seconds or 0.0) if waiting else 0.0,
                latest_sentiment=trend.latest,
                unanswered_messages=unanswered,
                alerts=len(alerts),
                silence_alert_seconds=self.silence_alert_seconds,
                target_seconds=self.target_seconds,
            ),
            alerts=[alert.kind for alert in alerts],
        )

    def _bot_row(self, conversation: Conversation, seen: _Messages) -> MonitorRow:
        trend = sentiment_trend(list(reversed(seen.inbound)))
        return MonitorRow(
            conversation_id=conversation.id,
            handoff_id=None,
            channel=conversation.channel,
            lang=conversation.lang,
            state=BOT,
            started_at=conversation.created_at,
            last_message_at=seen.last_at,
            waiting_seconds=None,
            sla_breached=False,
            unanswered_seconds=None,
            unanswered_messages=0,
            sentiment=trend,
            last_lines=_last_lines(seen),
            risk=risk(silence_seconds=0.0, waiting_seconds=0.0, latest_sentiment=trend.latest,
                      unanswered_messages=0, alerts=0,
                      silence_alert_seconds=self.silence_alert_seconds,
                      target_seconds=self.target_seconds),
            alerts=[],
        )

    # -- alerts ----------------------------------------------------------------------------

    def _alerts(self, handoff: Handoff, silence: Silence | None, names: Mapping[int, str],
                now: datetime) -> list[Alert]:
        """The handoff's alerts now. ``silence``: an agent's subscriber waits longer than
        SILENCE_ALERT_SECONDS for an answer; ``sla``: nobody took it within the target;
        ``unanswered_messages``: three messages or more without an answer."""
        found: list[Alert] = []

        def alert(kind: AlertKind, key: str, since: datetime, seconds: float) -> None:
            found.append(Alert(
                id=f"{kind}:{key}", kind=kind, conversation_id=handoff.conversation_id,
                handoff_id=handoff.id, channel=handoff.channel,
                agent=_name(names, handoff.agent_id), since=since,
                seconds=round(seconds, 3),
                messages=silence.messages if silence is not None else 0,
            ))

        if handoff.status == HandoffStatus.WAITING:
            waited = seconds_between(handoff.created_at, now)
            if waited > self.target_seconds:
                alert(SLA, str(handoff.id), handoff.created_at, waited)
        if silence is None:
            return found
        key = f"{handoff.id}:{int(aware(silence.start).timestamp())}"
        if (handoff.status == HandoffStatus.ACTIVE and handoff.agent_id is not None
                and silence.seconds(now) > self.silence_alert_seconds):
            alert(SILENCE, key, silence.start, silence.seconds(now))
        if silence.messages >= UNANSWERED_ALERT_MESSAGES:
            alert(UNANSWERED, key, silence.start, silence.seconds(now))
        return found


# -- the batched reads ---------------------------------------------------------------------


def _latest_per_conversation(handoffs: Sequence[Handoff]) -> list[Handoff]:
    """One open handoff per conversation (the latest), in id order."""
    latest: dict[str, Handoff] = {}
    for handoff in handoffs:
        current = latest.get(handoff.conversation_id)
        if current is None or handoff.id > current.id:
            latest[handoff.conversation_id] = handoff
    return sorted(latest.values(), key=lambda h: h.id)


async def _conversations(
    session: AsyncSession, held: set[str], cutoff: datetime
) -> dict[str, Conversation]:
    """The handoffs' conversations and those the bot holds that moved since ``cutoff``.

    A processed message sets ``updated_at`` (bot/turns.py), so it narrows the bot's
    conversations down before their messages are read; the latest message decides."""
    bots = and_(
        or_(
            Conversation.state == ConversationState.BOT,
            and_(Conversation.state == ConversationState.CLOSED,
                 Conversation.awaiting == AWAITING_RATING),
        ),
        Conversation.updated_at >= cutoff,  # set at creation too; indexed (migration 0012)
    )
    found = await session.scalars(
        select(Conversation).where(or_(Conversation.id.in_(sorted(held)), bots) if held else bots)
    )
    return {conversation.id: conversation for conversation in found}


async def _latest_messages(
    session: AsyncSession, conversations: Mapping[str, Conversation]
) -> dict[str, _Messages]:
    """Per conversation: the latest messages (any side) and the subscriber's latest texts.
    One query: two row numbers, over the conversation and over the conversation's side."""
    out: dict[str, _Messages] = defaultdict(_Messages)
    if not conversations:
        return out
    ranked = (
        select(
            Message.id,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=Message.id.desc())
            .label("age"),
            func.row_number()
            .over(partition_by=(Message.conversation_id, Message.direction),
                  order_by=Message.id.desc())
            .label("side_age"),
        )
        .where(Message.conversation_id.in_(list(conversations)))
        .subquery()
    )
    rows = await session.execute(
        select(Message, ranked.c.age, ranked.c.side_age)
        .join(ranked, ranked.c.id == Message.id)
        .where(or_(ranked.c.age <= LAST_LINES,
                   and_(Message.direction == "in", ranked.c.side_age <= SENTIMENT_MESSAGES)))
        .order_by(Message.id.desc())
    )
    for message, age, side_age in rows:
        seen = out[message.conversation_id]
        if age <= LAST_LINES:
            seen.last.append(message)
        if message.direction == "in" and side_age <= SENTIMENT_MESSAGES:
            seen.inbound.append(message.text or "")
    return out


async def _events_since_escalation(
    session: AsyncSession, handoffs: Sequence[Handoff]
) -> dict[int, list[tuple[datetime, str]]]:
    """Per handoff, its conversation's messages since the escalation as silence events (as
    ``handoff_silences`` reads them, for every handoff in one query)."""
    out: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if not handoffs:
        return out
    rows = await session.execute(
        select(Handoff.id, Message.created_at, Message.direction, Message.sender)
        .join(Message, and_(Message.conversation_id == Handoff.conversation_id,
                            Message.created_at >= Handoff.created_at))
        .where(Handoff.id.in_([h.id for h in handoffs]))
        .order_by(Handoff.id, Message.id)
    )
    for handoff_id, at, direction, sender in rows:
        out[handoff_id].append((at, event_kind(direction, sender)))
    return out


async def _usernames(session: AsyncSession, handoffs: Iterable[Handoff]) -> dict[int, str]:
    ids = {agent_id for h in handoffs for agent_id in (h.agent_id, h.supervisor_id)
           if agent_id is not None}
    if not ids:
        return {}
    rows = await session.execute(select(Agent.id, Agent.username).where(Agent.id.in_(ids)))
    return {agent_id: username for agent_id, username in rows}


# -- small helpers -------------------------------------------------------------------------


def _silence(handoff: Handoff, events: Mapping[int, list[tuple[datetime, str]]]) -> Silence | None:
    return ongoing(silences_of(handoff, events.get(handoff.id, [])))


def _ordered(alerts: Iterable[Alert]) -> list[Alert]:
    """Longest first (the most urgent on top), the id breaking ties."""
    return sorted(alerts, key=lambda a: (-a.seconds, a.id))


def _name(names: Mapping[int, str], agent_id: int | None) -> str | None:
    return names.get(agent_id) if agent_id is not None else None


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 3) if seconds is not None else None


def _last_lines(seen: _Messages) -> list[LastLine]:
    return [LastLine.model_validate(transcript_entry(m)) for m in reversed(seen.last)]


def _identity(identity: Identity | None) -> MonitorIdentity:
    if identity is None:
        return MonitorIdentity(alias="", display_name=None, verified=False)
    view = identity_view(identity, with_phone=False)
    return MonitorIdentity(alias=view["alias"], display_name=view["display_name"],
                           verified=bool(view["verified"]))
