"""Conversations: store every inbound message, then handle each conversation in order.

``receive`` = ``accept`` (store, idempotent on the channel's message id) + ``process``
(understand and answer everything not yet answered). Channels that must acknowledge a delivery
(Telegram offsets, webhooks) call ``accept`` first, acknowledge, then ``process``; whatever a
crash leaves unprocessed is handled by ``recover`` at the next start.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import failpoints
from bot.handoff_hooks import AGENT_STATES, HandoffHooks
from bot.locks import KeyedLocks
from bot.messages import InboundMessage, OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.policy import ConversationView, Decision, DialoguePolicy, Turn, parse_payload
from bot.storage import Conversation, ConversationState, Customer, Database, Identity, Message
from nlu import NluClient, NluError, NluResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    conversation_id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredReply:
    id: int
    message: OutboundMessage


@dataclass(frozen=True, slots=True)
class Received:
    conversation_id: str
    state: str
    message_id: int
    duplicate: bool
    replies: tuple[StoredReply, ...]


class Conversations:
    def __init__(
        self,
        db: Database,
        nlu: NluClient,
        policy: DialoguePolicy,
        handoff: HandoffHooks,
        notifier: Notifier,
    ) -> None:
        self._db = db
        self._nlu = nlu
        self._policy = policy
        self._handoff = handoff
        self._notifier = notifier
        self._locks = KeyedLocks()

    # -- the public surface ----------------------------------------------------------------

    async def receive(self, inbound: InboundMessage) -> Received:
        accepted = await self.accept(inbound)
        failpoints.hit(failpoints.AFTER_ACCEPT)
        await self.process(accepted.conversation_id)
        async with self._db.sessions() as session:
            conversation = await session.get(Conversation, accepted.conversation_id)
            assert conversation is not None
            replies = await self._replies_to(session, accepted.message_id)
        return Received(
            conversation_id=accepted.conversation_id,
            state=conversation.state,
            message_id=accepted.message_id,
            duplicate=accepted.duplicate,
            replies=replies,
        )

    async def accept(self, inbound: InboundMessage) -> Accepted:
        """Store the message (once). Safe to call again with the same channel message id."""
        key = f"identity:{inbound.channel}:{inbound.channel_user_id}"
        async with self._locks.hold(key):
            existing = await self._find_inbound(inbound)
            if existing is not None:
                return existing
            try:
                async with self._db.transaction() as session:
                    conversation = await self._open_conversation(session, inbound)
                    stored = Message(
                        conversation_id=conversation.id,
                        direction="in",
                        sender="subscriber",
                        channel=inbound.channel,
                        channel_message_id=inbound.channel_message_id,
                        text=inbound.text,
                        payload=inbound.payload,
                        attachments={"kinds": list(inbound.attachments)}
                        if inbound.attachments else None,
                        meta=_json_safe(inbound),
                        lang=inbound.lang,
                        created_at=inbound.received_at,
                    )
                    session.add(stored)
                    await session.flush()
                    accepted = Accepted(stored.id, conversation.id, duplicate=False)
            except IntegrityError:  # another replica stored the same delivery first
                existing = await self._find_inbound(inbound)
                if existing is None:
                    raise
                return existing
        self._notifier.messages.publish()
        return accepted

    async def process(self, conversation_id: str) -> None:
        """Answer every stored, unanswered message of the conversation, oldest first."""
        async with self._locks.hold(f"conversation:{conversation_id}"):
            while True:
                async with self._db.sessions() as session:
                    pending = await session.scalar(
                        select(Message)
                        .where(
                            Message.conversation_id == conversation_id,
                            Message.direction == "in",
                            Message.processed_at.is_(None),
                        )
                        .order_by(Message.id)
                        .limit(1)
                    )
                    conversation = await session.get(Conversation, conversation_id)
                if pending is None or conversation is None:
                    return
                await self._process_one(conversation, pending)

    async def recover(self) -> int:
        """Process what a crash left stored but unanswered; returns the number of conversations."""
        async with self._db.sessions() as session:
            ids = (
                await session.scalars(
                    select(Message.conversation_id)
                    .where(Message.direction == "in", Message.processed_at.is_(None))
                    .distinct()
                )
            ).all()
        for conversation_id in ids:
            try:
                await self.process(conversation_id)
            except Exception:
                log.exception("recovery of conversation %s failed", conversation_id)
        return len(ids)

    async def replies_since(
        self, channel: str, channel_user_id: str, after: int, *, limit: int = 100
    ) -> tuple[list[StoredReply], str | None]:
        """Outbound messages to one subscriber after message id ``after`` (web chat updates)."""
        async with self._db.sessions() as session:
            identity = await session.scalar(
                select(Identity).where(
                    Identity.channel == channel, Identity.channel_user_id == channel_user_id
                )
            )
            if identity is None:
                return [], None
            rows = (
                await session.scalars(
                    select(Message)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Conversation.identity_id == identity.id,
                        Message.direction == "out",
                        Message.id > after,
                    )
                    .order_by(Message.id)
                    .limit(limit)
                )
            ).all()
            state = await session.scalar(
                select(Conversation.state)
                .where(Conversation.identity_id == identity.id)
                .order_by(Conversation.created_at.desc(), Conversation.id.desc())
                .limit(1)
            )
        return [StoredReply(row.id, _outbound(row)) for row in rows], state

    # -- internals -------------------------------------------------------------------------

    async def _find_inbound(self, inbound: InboundMessage) -> Accepted | None:
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(Message.id, Message.conversation_id).where(
                        Message.channel == inbound.channel,
                        Message.channel_message_id == inbound.channel_message_id,
                    )
                )
            ).first()
        return Accepted(row.id, row.conversation_id, duplicate=True) if row else None

    async def _open_conversation(
        self, session: AsyncSession, inbound: InboundMessage
    ) -> Conversation:
        identity = await session.scalar(
            select(Identity).where(
                Identity.channel == inbound.channel,
                Identity.channel_user_id == inbound.channel_user_id,
            )
        )
        if identity is None:
            customer = Customer(lang=inbound.lang)
            session.add(customer)
            await session.flush()
            identity = Identity(
                customer_id=customer.id,
                channel=inbound.channel,
                channel_user_id=inbound.channel_user_id,
                address=inbound.reply_address,
                display_name=inbound.display_name,
            )
            session.add(identity)
            await session.flush()
        elif inbound.reply_address != identity.address:
            identity.address = inbound.reply_address
        if inbound.contact is not None and inbound.contact.verified:
            identity.verified_phone = inbound.contact.phone
        if identity.blocked_at is not None:  # they wrote again, so they unblocked the bot
            identity.blocked_at = None
        latest = await session.scalar(
            select(Conversation)
            .where(Conversation.identity_id == identity.id)
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if latest is not None and (latest.state != ConversationState.CLOSED or latest.awaiting):
            return latest
        conversation = Conversation(
            id=uuid.uuid4().hex,
            customer_id=identity.customer_id,
            identity_id=identity.id,
            channel=inbound.channel,
            state=ConversationState.BOT,
            lang=inbound.lang,
            misunderstandings=0,
            context={},
        )
        session.add(conversation)
        await session.flush()
        return conversation

    async def _process_one(self, conversation: Conversation, message: Message) -> None:
        turn = Turn(
            text=message.text,
            payload=message.payload,
            attachments=tuple((message.attachments or {}).get("kinds", ())),
            lang_hint=message.lang,
            contact_verified=(message.meta or {}).get("contact_verified"),
        )
        nlu: NluResult | None = None
        if conversation.state not in AGENT_STATES:
            nlu = await self._understand(conversation, turn)
        async with self._db.transaction() as session:
            fresh = await session.get(Message, message.id, with_for_update=True)
            convo = await session.get(Conversation, conversation.id, with_for_update=True)
            if fresh is None or convo is None or fresh.processed_at is not None:
                return
            identity = await session.get(Identity, convo.identity_id)
            assert identity is not None
            lang = (nlu.lang if nlu is not None and turn.payload is None else None) \
                or convo.lang or "ru"
            replies = await self._handoff.intercept(session, convo, fresh, nlu=nlu, lang=lang)
            if replies is None:
                replies = await self._decide(session, convo, fresh, turn, nlu)
            elif nlu is not None:
                _record_nlu(fresh, nlu)
            for reply in replies:
                await enqueue_reply(
                    session, conversation=convo, address=identity.address, message=reply,
                    reply_to_id=fresh.id,
                )
            fresh.processed_at = utcnow()
            convo.updated_at = utcnow()
        self._notifier.messages.publish()
        if replies:
            self._notifier.outbox.publish()

    async def _understand(self, conversation: Conversation, turn: Turn) -> NluResult | None:
        lang = turn.lang_hint or conversation.lang or "ru"
        if turn.payload:
            parsed = parse_payload(turn.payload, lang)
            if parsed is not None:
                return parsed
            turn_text = turn.payload
        else:
            turn_text = turn.text
        if not turn_text.strip() or self._policy.command_intent(turn_text):
            return None
        try:
            return await self._nlu.parse(turn_text, lang_hint=turn.lang_hint)
        except NluError as exc:
            log.warning("NLU unavailable for conversation %s: %s", conversation.id, exc)
            return None

    async def _decide(
        self,
        session: AsyncSession,
        convo: Conversation,
        message: Message,
        turn: Turn,
        nlu: NluResult | None,
    ) -> list[OutboundMessage]:
        view = ConversationView(
            state=convo.state,
            lang=convo.lang or "ru",
            misunderstandings=convo.misunderstandings,
            awaiting=convo.awaiting,
        )
        decision = self._policy.decide(view, turn, nlu)
        if nlu is not None:
            _record_nlu(message, nlu)
        message.lang = decision.lang
        return await self._apply(session, convo, decision)

    async def _apply(
        self, session: AsyncSession, convo: Conversation, decision: Decision
    ) -> list[OutboundMessage]:
        convo.lang = decision.lang
        convo.misunderstandings = decision.misunderstandings
        convo.awaiting = decision.awaiting
        if convo.state == ConversationState.CLOSED:  # a late answer (e.g. a rating) reopens nothing
            convo.awaiting = None
        replies = list(decision.replies)
        if decision.escalate:
            replies += await self._handoff.escalate(
                session, convo, reason=decision.escalate, lang=decision.lang
            )
        return replies

    async def _replies_to(self, session: AsyncSession, message_id: int) -> tuple[StoredReply, ...]:
        rows = (
            await session.scalars(
                select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
            )
        ).all()
        return tuple(StoredReply(row.id, _outbound(row)) for row in rows)


def _record_nlu(message: Message, nlu: NluResult) -> None:
    message.nlu = nlu.to_dict()
    message.intent = nlu.intent
    message.confidence = nlu.confidence


def _outbound(row: Message) -> OutboundMessage:
    buttons = row.buttons or {}
    return OutboundMessage.from_dict(
        {
            "text": row.text,
            "buttons": buttons.get("items", []),
            "request_phone": buttons.get("request_phone", False),
            "sender": row.sender,
            "metadata": row.meta or {},
        }
    )


def _json_safe(inbound: InboundMessage) -> dict[str, Any] | None:
    meta: dict[str, Any] = {}
    for key, value in inbound.metadata.items():
        if isinstance(value, str | int | float | bool) or value is None:
            meta[str(key)] = value
    if inbound.contact is not None:
        meta["contact_phone"] = inbound.contact.phone
        meta["contact_verified"] = inbound.contact.verified
    if inbound.display_name:
        meta["display_name"] = inbound.display_name
    return meta or None
