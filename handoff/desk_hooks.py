"""What the core calls: :class:`DeskHooks` implements ``bot.handoff_contract.HandoffHooks``.

``escalate`` opens a handoff with its context card and tells the subscriber their place in
the queue; ``intercept`` sees every inbound message first and takes the ones that belong to
the handoff: anything while a person owns the conversation, a cancel while waiting, the
rating after close, and a strongly negative outburst (which escalates at once).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import CLIENT_ADDRESS, Button, OutboundMessage, utcnow
from bot.policy import Reason
from bot.storage import Conversation, ConversationState, Message, affected_rows
from handoff.card import build_card, merge_sentiment
from handoff.events import DeskEvents
from handoff.goodwill import Goodwill
from handoff.lexicon import load_lexicon, normalise
from handoff.queue import WaitPolicy, current_handoff, position_and_wait
from handoff.routing import Routing
from handoff.sentiment import analyse
from handoff.silence import remember_silences
from handoff.tables import Handoff, HandoffStatus
from knowledge_base import KnowledgeBase, PhraseKey
from nlu import NluResult, intent_family

log = logging.getLogger(__name__)

AWAITING_RATING = "rating"
CANCEL_PAYLOAD = "/cancel"
RATING_PAYLOAD = "/rating"
NEGATIVE_SENTIMENT = Reason.NEGATIVE_SENTIMENT
COMPLAINT = Reason.COMPLAINT
_RATING = re.compile(r"^\s*(?:[^\d\s]{0,12}\s*)?(-?\d{1,3})(?:\s*(?:/\s*5|из\s*5|з\s*5|of\s*5))?"
                     r"\s*[^\w\s]{0,3}\s*$", re.IGNORECASE)
_STARS = re.compile(r"^\s*([⭐★]{1,5})\s*$")


def rating_buttons() -> tuple[Button, ...]:
    return tuple(
        Button(str(n), f'{RATING_PAYLOAD}{{"score": "{n}"}}') for n in range(1, 6)
    )


def parse_rating(text: str, payload: str | None) -> int | None:
    """1..5 from a button or a message like "5", "5/5", "оценка 4", "⭐⭐⭐"; -1 for a number
    out of range ("7"); None when the message is not a rating at all."""
    if payload and payload.startswith(RATING_PAYLOAD):
        try:
            score = int(json.loads(payload[len(RATING_PAYLOAD):] or "{}").get("score", 0))
        except (ValueError, TypeError, AttributeError):
            return -1
        return score if 1 <= score <= 5 else -1
    stars = _STARS.match(text or "")
    if stars:
        return len(stars.group(1))
    match = _RATING.match(text or "")
    if not match:
        return None
    score = int(match.group(1))
    return score if 1 <= score <= 5 else -1


def is_cancel(message: Message) -> bool:
    if message.payload:
        return message.payload.strip() == CANCEL_PAYLOAD
    if (message.text or "").strip() == CANCEL_PAYLOAD:
        return True
    text = normalise(re.sub(r"[^\w\s'-]", " ", message.text or ""))
    return " ".join(text.split()) in load_lexicon().cancel


async def _client_of(session: AsyncSession, conversation: Conversation) -> str | None:
    """The client address the channel put on the message being answered (the oldest
    unprocessed one; the latest inbound when called outside a turn). Only the web chat sends
    one; other channels' subscribers are known to their platform and are not capped."""
    inbound = select(Message.meta).where(
        Message.conversation_id == conversation.id, Message.direction == "in"
    )
    pending = await session.execute(
        inbound.where(Message.processed_at.is_(None)).order_by(Message.id).limit(1)
    )
    row = pending.first() or (
        await session.execute(inbound.order_by(Message.id.desc()).limit(1))
    ).first()
    meta = row.meta if row is not None else None
    meta = meta or {}
    address = meta.get(CLIENT_ADDRESS)
    return str(address)[:64] if isinstance(address, str) and address else None


async def _open_from(session: AsyncSession, address: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Handoff).where(
            Handoff.client_address == address, Handoff.status.in_(HandoffStatus.OPEN)
        )
    )
    return int(count or 0)


class DeskHooks:
    def __init__(
        self,
        *,
        kb: KnowledgeBase,
        events: DeskEvents,
        wait_policy: WaitPolicy,
        max_open_per_address: int = 0,
        routing: Routing | None = None,
        goodwill: Goodwill | None = None,
    ) -> None:
        """With ``routing`` a handoff needs the skill of its card's topic (without: none);
        with ``goodwill`` a subscriber who cancels after a long wait is recorded as refused."""
        self._goodwill = goodwill
        self._kb = kb
        self._routing = routing
        self._events = events
        self._wait = wait_policy
        self._max_open_per_address = max_open_per_address  # 0 = no cap

    # -- HandoffHooks ------------------------------------------------------------------------

    async def intercept(
        self,
        session: AsyncSession,
        conversation: Conversation,
        message: Message,
        *,
        nlu: NluResult | None,
        lang: str,
    ) -> list[OutboundMessage] | None:
        state = conversation.state
        if state in (ConversationState.WAITING_AGENT, ConversationState.WITH_AGENT):
            return await self._for_the_agent(session, conversation, message, lang=lang)
        if state == ConversationState.CLOSED and conversation.awaiting == AWAITING_RATING:
            return await self._rating(session, conversation, message)
        if state == ConversationState.BOT:
            return await self._outburst(session, conversation, message, nlu=nlu, lang=lang)
        return None

    async def escalate(
        self, session: AsyncSession, conversation: Conversation, *, reason: str, lang: str
    ) -> list[OutboundMessage]:
        existing = await current_handoff(session, conversation.id)
        if existing is not None and existing.status in HandoffStatus.OPEN:
            conversation.state = (
                ConversationState.WAITING_AGENT if existing.status == HandoffStatus.WAITING
                else ConversationState.WITH_AGENT
            )
            return [OutboundMessage(text=self._kb.phrase(PhraseKey.HANDOFF_ALREADY_WAITING, lang))]
        address = await _client_of(session, conversation)
        cap = self._max_open_per_address
        if address and cap and await _open_from(session, address) >= cap:
            # one anonymous client must not flood the agents' queue: no new handoff
            log.info("conversation %s not escalated: open handoff cap of its address reached",
                     conversation.id)
            return [OutboundMessage(text=self._kb.phrase(PhraseKey.HANDOFF_LIMIT, lang))]
        reason = await self._refine(session, conversation, reason)
        now = utcnow()
        card = await build_card(session, self._kb, conversation, reason=reason, lang=lang,
                                escalated_at=now)
        handoff = Handoff(
            conversation_id=conversation.id,
            status=HandoffStatus.WAITING,
            reason=reason,
            channel=conversation.channel,
            lang=lang,
            card=card,
            sentiment=float(card["sentiment"]["score"]),
            created_at=now,
            last_subscriber_at=now,
            client_address=address,
            skill=self._routing.skill_for(card.get("topic")) if self._routing else None,
        )
        session.add(handoff)
        await session.flush()
        conversation.state = ConversationState.WAITING_AGENT
        conversation.awaiting = None
        conversation.closed_at = None
        conversation.context = {
            **(conversation.context or {}), "handoff_id": handoff.id, "handoff_reason": reason,
            "handoff_acknowledged": False,
        }
        position, minutes = await position_and_wait(session, handoff, self._wait, now)
        self._events.publish_on_commit(session)
        log.info("conversation %s escalated (%s, skill %s), queue position %d", conversation.id,
                 reason, handoff.skill or "any", position)
        text = self._kb.phrase(PhraseKey.HANDOFF_WAITING, lang, position=position, wait_minutes=minutes)
        cancel = Button(self._kb.phrase(PhraseKey.CANCEL_BUTTON, lang), CANCEL_PAYLOAD)
        return [OutboundMessage(text=text, buttons=(cancel,))]

    # -- the cases ---------------------------------------------------------------------------

    async def _for_the_agent(
        self, session: AsyncSession, conversation: Conversation, message: Message, *, lang: str
    ) -> list[OutboundMessage]:
        handoff = await current_handoff(session, conversation.id)
        if handoff is None or handoff.status not in HandoffStatus.OPEN:
            # the state says "a person" but no handoff is open (e.g. set before the desk was on)
            reason = (conversation.context or {}).get("handoff_reason") or Reason.SUBSCRIBER_REQUEST
            conversation.state = ConversationState.BOT
            return await self.escalate(session, conversation, reason=str(reason), lang=lang)
        if handoff.status == HandoffStatus.WAITING and is_cancel(message):
            now = utcnow()
            cancelled = await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff.id, Handoff.status == HandoffStatus.WAITING)
                .values(status=HandoffStatus.CANCELLED, ended_at=now)
            )
            if affected_rows(cancelled) == 1:
                await remember_silences(session, handoff, now, ended_at=now)
                if self._goodwill is not None:  # a long wait, then cancelled: no bonus, recorded
                    await self._goodwill.on_ended_unanswered(session, handoff, now)
                conversation.state = ConversationState.BOT
                conversation.misunderstandings = 0
                conversation.awaiting = None
                self._events.publish_on_commit(session)
                return [OutboundMessage(text=self._kb.phrase(PhraseKey.CANCELLED_HANDOFF, lang))]
            await session.refresh(handoff)  # an agent claimed it just now: it is theirs
        card: dict[str, Any] = dict(handoff.card or {})
        handoff.sentiment = min(handoff.sentiment or 0.0, merge_sentiment(card, message.text))
        handoff.card = card
        handoff.last_subscriber_at = utcnow()
        self._events.publish_on_commit(session)
        context = dict(conversation.context or {})
        if handoff.status == HandoffStatus.ACTIVE or context.get("handoff_acknowledged"):
            return []
        conversation.context = {**context, "handoff_acknowledged": True}
        return [OutboundMessage(text=self._kb.phrase(PhraseKey.HANDOFF_ALREADY_WAITING, lang))]

    async def _rating(
        self, session: AsyncSession, conversation: Conversation, message: Message
    ) -> list[OutboundMessage] | None:
        lang = conversation.lang or "ru"
        score = parse_rating(message.text, message.payload)
        if score is None:  # a new question instead of a rating: the bot answers it
            conversation.awaiting = None
            return None
        if score < 0:
            return [OutboundMessage(text=self._kb.phrase(PhraseKey.RATING_INVALID, lang),
                                    buttons=rating_buttons())]
        handoff = await session.scalar(
            select(Handoff)
            .where(Handoff.conversation_id == conversation.id,
                   Handoff.status == HandoffStatus.CLOSED)
            .order_by(Handoff.id.desc())
            .limit(1)
        )
        if handoff is not None and handoff.rating is None:
            handoff.rating = score
            handoff.rated_at = utcnow()
            self._events.publish_on_commit(session)
        conversation.awaiting = None
        return [OutboundMessage(text=self._kb.phrase(PhraseKey.RATING_THANKS, lang))]

    async def _outburst(
        self,
        session: AsyncSession,
        conversation: Conversation,
        message: Message,
        *,
        nlu: NluResult | None,
        lang: str,
    ) -> list[OutboundMessage] | None:
        if message.payload or not (message.text or "").strip():
            return None
        if nlu is not None and nlu.family == "human_request":
            return None  # the policy escalates it as the subscriber's request
        if not analyse(message.text).strongly_negative:
            return None
        if nlu is not None:  # the card reads what was understood, this message included
            message.nlu, message.intent, message.confidence = nlu.to_dict(), nlu.intent, \
                nlu.confidence
        conversation.lang = lang
        conversation.misunderstandings = 0
        sorry = OutboundMessage(text=self._kb.phrase(PhraseKey.HANDOFF_SORRY, lang))
        return [sorry, *await self.escalate(session, conversation, reason=NEGATIVE_SENTIMENT,
                                            lang=lang)]

    @staticmethod
    async def _refine(session: AsyncSession, conversation: Conversation, reason: str) -> str:
        """A topic that needs an agent because it is a complaint is called a complaint."""
        if reason != Reason.NEEDS_AGENT:
            return reason
        intent = await session.scalar(
            select(Message.intent)
            .where(Message.conversation_id == conversation.id, Message.direction == "in",
                   Message.intent.is_not(None))
            .order_by(Message.id.desc())
            .limit(1)
        )
        return COMPLAINT if intent and intent_family(intent) == COMPLAINT else reason
