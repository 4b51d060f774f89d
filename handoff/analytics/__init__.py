"""Quality figures for supervisors (``GET /api/desk/analytics``): containment, repeat contacts,
CSAT, service level per day and hour, sentiment, handoff reasons and what the bot did not
understand, and the goodwill bonuses (:mod:`handoff.analytics.goodwill`). The definitions are
in :mod:`handoff.analytics.figures`.

How it is computed (a first version, on purpose simple): five queries, each bounded by the
period (at most 366 days, checked by the route) and indexed by time, read the period's rows
(the conversations of the period plus the 7 days after it, for repeat contacts; their inbound
messages' intents; the period's handoffs; its inbound message texts), and the figures are
worked out in Python. That is linear in the period's traffic; when a year of a large
operator's traffic gets slow, the counts can move into SQL ``GROUP BY`` one figure at a time
(sentiment cannot: the lexicon is Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Conversation, Customer, Database, Identity, Message
from handoff.analytics import figures
from handoff.analytics.figures import ConversationRow, HandoffRow
from handoff.analytics.goodwill import goodwill_figures
from handoff.analytics.schemas import AnalyticsOut, PeriodOut
from handoff.card import _NOT_A_TOPIC as NOT_A_TOPIC
from handoff.stats import zone
from handoff.tables import Agent, Handoff
from handoff.timeutil import aware
from nlu.intents import FALLBACK_INTENT, intent_family

MAX_PERIOD = timedelta(days=366)
DEFAULT_DAYS = 7
OUT_OF_SCOPE = "out_of_scope"
REDACTED_CODE = "••••••"  # bot/turns.py: what is kept of a message that held a one-time code


class PeriodError(ValueError):
    """The period asked for cannot be worked out (the route answers 422)."""


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime  # inclusive, UTC
    until: datetime  # exclusive, UTC
    channel: str | None = None


class Analytics:
    def __init__(self, db: Database, *, target_seconds: int, timezone: str) -> None:
        self._db = db
        self.target_seconds = target_seconds
        self.timezone = timezone
        self._zone = zone(timezone)

    def period(
        self, since: datetime | None, until: datetime | None, channel: str | None = None,
        *, now: datetime | None = None,
    ) -> Period:
        """The period to compute: ``until`` defaults to now, ``since`` to the start of the
        calendar day (DESK_TIMEZONE) six days before ``until``'s, so the default is the last
        7 days as in ``GET /api/desk/stats``. At most 366 days."""
        try:
            end = aware(until or now or utcnow()).astimezone(UTC)
            if since is None:
                local = (end - timedelta(microseconds=1)).astimezone(self._zone)
                midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
                since = (midnight - timedelta(days=DEFAULT_DAYS - 1)).astimezone(UTC)
            start = aware(since).astimezone(UTC)
            # what compute needs of the calendar: the days around and the week after it
            _ = (start - timedelta(days=1), end + figures.REPEAT_WINDOW + timedelta(days=1))
        except OverflowError:  # the edges of the calendar (0001-01-01, 9999-12-31)
            raise PeriodError("a date out of range") from None
        if start >= end:
            raise PeriodError("'from' must be before 'to'")
        if end - start > MAX_PERIOD:
            raise PeriodError("the period may not be longer than 366 days")
        return Period(start, end, channel)

    async def compute(self, period: Period, *, now: datetime | None = None) -> AnalyticsOut:
        now = now or utcnow()
        async with self._db.sessions() as session:
            history = await self._conversations(session, period)
            handoffs = await self._handoffs(session, period)
            texts = await self._texts(session, period)
            missed = await self._not_understood(session, period)
            goodwill = await goodwill_figures(session, period.since, period.until,
                                              period.channel)
        contacts = [
            c for c in history
            if aware(c.created_at) < period.until
            and (period.channel is None or c.channel == period.channel)
        ]
        return AnalyticsOut(
            generated_at=now,
            period=PeriodOut(from_=period.since, to=period.until, timezone=str(self._zone.key),
                             channel=period.channel),
            containment=figures.containment(contacts),
            repeat_contacts=figures.repeat_contacts(contacts, history),
            csat=figures.csat(handoffs),
            service_level=figures.service_level(
                handoffs, since=period.since, until=period.until, zone=self._zone, now=now,
                target=self.target_seconds,
            ),
            sentiment=figures.sentiment(texts),
            handoff_reasons=figures.handoff_reasons(handoffs),
            not_understood=figures.not_understood(missed),
            goodwill=goodwill,
        )

    # -- the reads -------------------------------------------------------------------------

    async def _conversations(self, session: AsyncSession, period: Period) -> list[ConversationRow]:
        """The conversations started in the period and in the 7 days after it (every channel:
        a repeat may come on another one), with their customer and topic."""
        window = (Conversation.created_at >= period.since,
                  Conversation.created_at < period.until + figures.REPEAT_WINDOW)
        had_handoff = exists().where(Handoff.conversation_id == Conversation.id)
        rows = (
            await session.execute(
                select(Conversation.id, Conversation.channel, Conversation.created_at,
                       Identity.id, Identity.customer_id, Customer.verified_phone,
                       had_handoff.label("had_handoff"))
                .join(Identity, Identity.id == Conversation.identity_id)
                .join(Customer, Customer.id == Identity.customer_id)
                .where(*window)
            )
        ).all()
        topics = await self._topics(session, window)
        return [
            ConversationRow(
                id=cid, channel=channel, created_at=aware(created),
                # the customer as linked now, when their number is proven; else the identity
                customer=(f"customer:{customer_id}" if phone else f"identity:{identity_id}"),
                family=topics.get(cid), had_handoff=bool(handoff),
            )
            for cid, channel, created, identity_id, customer_id, phone, handoff in rows
        ]

    @staticmethod
    async def _topics(session: AsyncSession, window: Sequence[Any]) -> dict[str, str]:
        """Each conversation's topic family: its first understood inbound message whose intent
        names a topic (the rule of the context card's topic, handoff/card.py, taken from the
        start: what the subscriber came for)."""
        rows = await session.execute(
            select(Message.conversation_id, Message.intent)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(*window, Message.direction == "in", Message.intent.is_not(None),
                   Message.intent.not_in(NOT_A_TOPIC))
            .order_by(Message.id)
        )
        topics: dict[str, str] = {}
        for conversation_id, intent in rows:
            family = intent_family(intent)
            if conversation_id not in topics and family not in NOT_A_TOPIC:
                topics[conversation_id] = family
        return topics

    @staticmethod
    async def _handoffs(session: AsyncSession, period: Period) -> list[HandoffRow]:
        """The handoffs escalated in the period (on the channel), with their agent."""
        query = (
            select(Handoff.created_at, Handoff.status, Handoff.reason, Handoff.channel,
                   Handoff.wait_seconds, Handoff.ended_at, Handoff.resolution, Handoff.rating,
                   Agent.username, Agent.display_name)
            .outerjoin(Agent, Agent.id == Handoff.agent_id)
            .where(Handoff.created_at >= period.since, Handoff.created_at < period.until)
        )
        if period.channel is not None:
            query = query.where(Handoff.channel == period.channel)
        return [
            HandoffRow(created_at=aware(created), status=status, reason=reason,
                       channel=channel, wait_seconds=wait,
                       ended_at=aware(ended) if ended else None, resolution=resolution,
                       rating=rating, agent=username, agent_name=name)
            for created, status, reason, channel, wait, ended, resolution, rating, username,
            name in (await session.execute(query)).all()
        ]

    @staticmethod
    def _inbound(period: Period) -> Select[tuple[str]]:
        query = select(Message.text).where(
            Message.direction == "in", Message.sender == "subscriber",
            Message.created_at >= period.since, Message.created_at < period.until,
            Message.text != "", Message.text != REDACTED_CODE,
        )
        if period.channel is not None:
            query = query.where(Message.channel == period.channel)
        return query

    async def _texts(self, session: AsyncSession, period: Period) -> list[str]:
        """The subscribers' messages of the period, for the sentiment."""
        return [t for t in (await session.scalars(self._inbound(period))).all() if t.strip()]

    async def _not_understood(self, session: AsyncSession, period: Period) -> list[str]:
        """The messages the bot did not understand, as the dialogue policy counts a
        misunderstanding (bot/policy.py): the NLU answered ``nlu_fallback`` (no intent above
        the confidence threshold: Rasa's FallbackClassifier) or an ``out_of_scope`` intent, or
        it answered without an intent. A message the NLU never saw (it was down, a button, a
        command, a verification code) is not one."""
        rows = await session.execute(
            self._inbound(period).add_columns(Message.intent, Message.nlu).where(or_(
                Message.intent == FALLBACK_INTENT,
                Message.intent.startswith(OUT_OF_SCOPE, autoescape=True),
                and_(Message.intent.is_(None), Message.nlu.is_not(None)),
            ))
        )
        return [
            text for text, intent, nlu in rows
            if (intent_family(intent) in (FALLBACK_INTENT, OUT_OF_SCOPE) if intent
                else isinstance(nlu, dict) and bool(nlu))
        ]
