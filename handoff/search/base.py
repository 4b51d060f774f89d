"""The search both databases share: filters, order, pages, agents and snippets. A database
supplies only how a message matches the text (:meth:`SqlSearch._match`) and, if it needs
one, a step before each search (:meth:`SqlSearch.catch_up`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.storage import Database, Message
from handoff.search.schemas import SearchOut, SearchQuery, SearchResult, SegmentOut
from handoff.search.text import ParsedQuery, parse_query, snippet
from handoff.tables import Agent, Handoff


class SqlSearch(ABC):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def catch_up(self) -> int:
        """Bring the text index up to date (nothing to do where the database keeps it); how
        many messages it indexed."""
        return 0

    @abstractmethod
    def _match(self, q: str, parsed: ParsedQuery) -> ColumnElement[bool]:
        """The condition on ``messages``: it matches ``q`` (``parsed`` is ``q`` read by
        text.py's rules)."""

    async def search(self, query: SearchQuery) -> SearchOut:
        parsed = parse_query(query.q) if query.q is not None else None
        if parsed is not None and parsed.empty:  # only punctuation or exclusions
            return SearchOut(results=[], page=query.page, page_size=query.page_size,
                             has_more=False)
        if parsed is not None:
            await self.catch_up()
        async with self._db.sessions() as session:
            if parsed is None:
                rows = await self._latest_per_conversation(session, query)
            else:
                rows = list((await session.scalars(self.matching(query, parsed))).all())
            more = len(rows) > query.page_size
            rows = rows[:query.page_size]
            agents = await _handoff_agents(session, {m.conversation_id for m in rows})
        highlighted = parsed.highlighted if parsed is not None else frozenset()
        return SearchOut(
            results=[_result(m, agents, highlighted) for m in rows],
            page=query.page, page_size=query.page_size, has_more=more,
        )

    def matching(self, query: SearchQuery, parsed: ParsedQuery) -> Select[tuple[Message]]:
        """The page of messages that match (with one more row: is there a next page?)."""
        assert query.q is not None
        return self._paged(
            select(Message).where(self._match(query.q, parsed), *filters(query))
            .order_by(Message.id.desc()), query,
        )

    async def _latest_per_conversation(self, session: AsyncSession,
                                       query: SearchQuery) -> list[Message]:
        latest = func.max(Message.id)
        ids = list((await session.scalars(self._paged(
            select(latest).where(*filters(query)).group_by(Message.conversation_id)
            .order_by(latest.desc()), query,
        ))).all())
        if not ids:
            return []
        return list((await session.scalars(
            select(Message).where(Message.id.in_(ids)).order_by(Message.id.desc())
        )).all())

    @staticmethod
    def _paged(statement: Select[Any], query: SearchQuery) -> Select[Any]:
        # one row more than the page: whether there is a next page, without counting
        return statement.limit(query.page_size + 1).offset((query.page - 1) * query.page_size)


def filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The filters as conditions on ``messages``: the message's own (channel, time) and its
    conversation's (an agent, an intent, a long silence)."""
    # an inbound message is searchable once processed: one that held a one-time code is
    # rewritten then (bot/turns.py), and a search must never show the code meanwhile
    conditions: list[ColumnElement[bool]] = [
        or_(Message.direction != "in", Message.processed_at.is_not(None)),
    ]
    if query.channel is not None:
        conditions.append(Message.channel == query.channel)
    if query.start is not None:
        conditions.append(Message.created_at >= query.start)
    if query.end is not None:
        conditions.append(Message.created_at < query.end)
    if query.agent is not None:
        conditions.append(Message.conversation_id.in_(
            select(Handoff.conversation_id).join(Agent, Agent.id == Handoff.agent_id)
            .where(Agent.username == query.agent)
        ))
    if query.intent is not None:
        other = aliased(Message)
        conditions.append(Message.conversation_id.in_(
            select(other.conversation_id).where(other.intent == query.intent)
        ))
    if query.silence_over is not None:
        conditions.append(Message.conversation_id.in_(
            select(Handoff.conversation_id)
            .where(Handoff.longest_silence_seconds > query.silence_over)
        ))
    return conditions


async def _handoff_agents(session: AsyncSession, conversation_ids: set[str]) -> dict[str, str]:
    """Each conversation's agent: the one of its latest handoff that had an agent."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(Handoff.conversation_id, Agent.username)
        .join(Agent, Agent.id == Handoff.agent_id)
        .where(Handoff.conversation_id.in_(conversation_ids))
        .order_by(Handoff.id)
    )
    return {conversation_id: username for conversation_id, username in rows}


def _result(message: Message, agents: dict[str, str],
            highlighted: frozenset[str]) -> SearchResult:
    meta = message.meta or {}
    writer = meta.get("agent") if message.sender == "agent" else None
    segments = snippet(message.text or message.payload or "", highlighted)
    return SearchResult(
        conversation_id=message.conversation_id,
        message_id=message.id,
        at=message.created_at,
        channel=message.channel,
        direction=message.direction,
        sender=message.sender,
        agent=writer if isinstance(writer, str) else agents.get(message.conversation_id),
        intent=message.intent,
        snippet=[SegmentOut(text=s.text, hit=s.hit) for s in segments],
    )
