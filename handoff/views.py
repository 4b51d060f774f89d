"""Read side of the desk: the queue and one conversation, as the viewer may see them.

Agents see the waiting queue and the conversations they own; supervisors see everything.
Who the subscriber is comes from the database on every read, never from the copy stored at
escalation: a verification ends, a channel gets linked, and the card follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Conversation, Database, Identity
from handoff.audit import Actor, AuditAction, AuditTrail
from handoff.auth import AgentInfo
from handoff.card import CustomerContext, customer_context, identity_view, notes_of, transcripts
from handoff.errors import Forbidden, NotFound
from handoff.queue import current_handoff, handoff_priority, open_handoffs, ordered
from handoff.schemas import (
    CardSummary,
    ContextCard,
    ConversationOut,
    NoteOut,
    OtherIdentityOut,
    QueueItem,
    QueueOut,
    RecentConversationOut,
)
from handoff.tables import Agent, Handoff, HandoffStatus
from handoff.timeutil import seconds_between
from knowledge_base import KnowledgeBase

if TYPE_CHECKING:
    from handoff.routing import Routing


def may_see(viewer: AgentInfo, handoff: Handoff) -> bool:
    return (
        viewer.is_supervisor
        or handoff.status == HandoffStatus.WAITING
        or handoff.agent_id == viewer.id
    )


async def visible_handoff(
    session: AsyncSession, viewer: AgentInfo, conversation_id: str
) -> tuple[Conversation, Handoff]:
    """The conversation and its current handoff, as ``viewer`` may open them: NotFound without
    a handoff, Forbidden when another agent handles it."""
    conversation = await session.get(Conversation, conversation_id)
    handoff = await current_handoff(session, conversation_id)
    if conversation is None or handoff is None:
        raise NotFound("no handoff for this conversation")
    if not may_see(viewer, handoff):
        raise Forbidden("another agent handles this conversation")
    return conversation, handoff


class DeskViews:
    def __init__(
        self, db: Database, kb: KnowledgeBase | None = None, audit: AuditTrail | None = None,
        routing: Routing | None = None,
    ) -> None:
        """Without ``kb`` the customer's other conversations carry their topic's intent but
        no label. Opening a conversation is recorded in ``audit``. With ``routing`` an agent's
        waiting queue puts the handoffs matching their skills first (without: priority only)."""
        self._db = db
        self._kb = kb
        self._audit = audit or AuditTrail(db)
        self._routing = routing

    async def queue(self, viewer: AgentInfo) -> QueueOut:
        now = utcnow()
        async with self._db.sessions() as session:
            handoffs = [h for h in await open_handoffs(session) if may_see(viewer, h)]
            waiting = await self._waiting_for(session, viewer, handoffs, now)
            active = [h for h in handoffs if h.status == HandoffStatus.ACTIVE]
            items = await self._items(session, [*(h for h, _ in waiting), *active], now)
        # the place in line is the place in this viewer's list (their skills first)
        positions = {h.id: i for i, (h, _) in enumerate(waiting, start=1)}
        matching = {h.id: match for h, match in waiting}
        for item in items:
            item.position = positions.get(item.handoff_id)
            item.matches_skills = matching.get(item.handoff_id, True)
        return QueueOut(
            waiting=[i for i in items if i.status == HandoffStatus.WAITING],
            active=[i for i in items if i.status == HandoffStatus.ACTIVE],
            generated_at=now,
        )

    async def conversation(
        self, viewer: AgentInfo, conversation_id: str, *, address: str | None = None
    ) -> ConversationOut:
        now = utcnow()
        async with self._db.sessions() as session:
            conversation, handoff = await visible_handoff(session, viewer, conversation_id)
            [item] = await self._items(session, [handoff], now)
            texts = await transcripts(session, [conversation_id])
            customer = await customer_context(session, conversation)
            notes = await notes_of(session, conversation_id)
            if handoff.status == HandoffStatus.WAITING:
                waiting = await self._waiting_for(session, viewer,
                                                  await open_handoffs(session), now)
                place = [h.id for h, _ in waiting].index(handoff.id)
                item.position, item.matches_skills = place + 1, waiting[place][1]
        card = ContextCard.model_validate({
            **item.card.model_dump(),
            "transcript": texts[conversation_id],
            **self._customer(viewer, customer, item.card.lang),
        })
        actor = Actor.of(viewer, address)
        await self._audit.record_view(actor, AuditAction.OPEN, conversation_id=conversation_id,
                                      handoff_id=handoff.id)
        if card.identity.verified_phone:
            await self._audit.record_view(actor, AuditAction.VIEW_PERSONAL_DATA,
                                          conversation_id=conversation_id,
                                          handoff_id=handoff.id,
                                          details={"data": "verified_phone"})
        return ConversationOut(
            **item.model_dump(exclude={"card"}),
            card=card,
            state=conversation.state,
            resolution=handoff.resolution,
            ended_at=handoff.ended_at,
            rating=handoff.rating,
            wait_seconds=handoff.wait_seconds,
            notes=[NoteOut(id=n.id, agent=name, text=n.text, at=n.created_at, kind=n.kind)
                   for n, name in notes],
        )

    async def _waiting_for(
        self, session: AsyncSession, viewer: AgentInfo, handoffs: Sequence[Handoff],
        now: datetime,
    ) -> list[tuple[Handoff, bool]]:
        """The waiting handoffs in the order ``viewer`` is offered them, each with whether it
        matches their skills. Supervisors (and every viewer without routing) get the priority
        order, everything matching."""
        waiting = ordered([h for h in handoffs if h.status == HandoffStatus.WAITING], now)
        if self._routing is None or viewer.is_supervisor:
            return [(h, True) for h in waiting]
        skills = await session.scalar(select(Agent.skills).where(Agent.id == viewer.id))
        return self._routing.arrange(waiting, skills, now)

    async def _items(
        self, session: AsyncSession, handoffs: Sequence[Handoff], now: datetime
    ) -> list[QueueItem]:
        """The handoffs as queue items: the card without the transcript, so a queue render
        costs one row per handoff however long the conversations are."""
        agent_ids = {i for h in handoffs for i in (h.agent_id, h.supervisor_id) if i is not None}
        names: dict[int, str] = {}
        if agent_ids:
            rows = await session.execute(
                select(Agent.id, Agent.username).where(Agent.id.in_(agent_ids))
            )
            names = {row.id: row.username for row in rows}
        identities = await _identities(session, {h.conversation_id for h in handoffs})
        return [_item(h, names, identities.get(h.conversation_id), now) for h in handoffs]

    def _customer(
        self, viewer: AgentInfo, customer: CustomerContext, lang: str
    ) -> dict[str, list[Any]]:
        return {
            "other_identities": [
                OtherIdentityOut.model_validate(
                    {"channel": other.channel, **identity_view(other, with_phone=False)}
                )
                for other in customer.others
            ],
            "recent_conversations": [
                RecentConversationOut(
                    conversation_id=recent.conversation.id,
                    channel=recent.conversation.channel,
                    started_at=recent.conversation.created_at,
                    state=recent.conversation.state,
                    topic=recent.topic,
                    topic_label=self._label(recent.topic, lang),
                    had_handoff=recent.latest_handoff is not None,
                    can_open=(recent.latest_handoff is not None
                              and may_see(viewer, recent.latest_handoff)),
                )
                for recent in customer.recent
            ],
        }

    def _label(self, topic: str | None, lang: str) -> str | None:
        if topic is None or self._kb is None:
            return None
        try:
            return self._kb.intent_label(topic, lang)
        except KeyError:  # an intent of a newer model the knowledge base does not know yet
            return None


async def _identities(
    session: AsyncSession, conversation_ids: set[str]
) -> dict[str, Identity]:
    """Each conversation's identity as it is now (one query)."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(Conversation.id, Identity)
        .join(Identity, Identity.id == Conversation.identity_id)
        .where(Conversation.id.in_(conversation_ids))
    )
    return {conversation_id: identity for conversation_id, identity in rows}


def _item(
    handoff: Handoff, names: Mapping[int, str], identity: Identity | None, now: datetime
) -> QueueItem:
    card = dict(handoff.card or {})
    end = handoff.ended_at or now
    return QueueItem(
        conversation_id=handoff.conversation_id,
        handoff_id=handoff.id,
        status=handoff.status,
        reason=handoff.reason,
        priority=handoff_priority(handoff, now) if handoff.status == HandoffStatus.WAITING else 0,
        waiting_seconds=round(seconds_between(handoff.created_at, handoff.claimed_at or end), 1),
        created_at=handoff.created_at,
        claimed_at=handoff.claimed_at,
        first_reply_at=handoff.first_reply_at,
        last_subscriber_at=handoff.last_subscriber_at,
        last_agent_at=handoff.last_agent_at,
        agent=names.get(handoff.agent_id) if handoff.agent_id is not None else None,
        supervisor=(names.get(handoff.supervisor_id) if handoff.supervisor_id is not None
                    else None),
        skill=handoff.skill,
        summary=str(card.get("summary") or "—"),
        card=CardSummary.model_validate({
            "channel": card.get("channel") or handoff.channel,
            "lang": card.get("lang") or handoff.lang,
            # the stored copy only when the identity is gone; its extra keys are dropped
            "identity": identity_view(identity) if identity else card.get("identity") or {},
            "reason": handoff.reason,
            "topic": card.get("topic"),
            "summary": str(card.get("summary") or "—"),
            "intents": card.get("intents") or [],
            "entities": card.get("entities") or {},
            "sentiment": card.get("sentiment") or {},
            "escalated_at": card.get("escalated_at") or handoff.created_at,
        }),
    )
