"""Conversations: store every inbound message, then handle each conversation in order.

``receive`` = ``accept`` (store, idempotent on the sender's identity + the channel's message id)
+ ``process`` (understand and answer everything not yet answered, oldest first; a message that
keeps failing is marked failed and handed to a person, so it never blocks the ones after it).
Channels that must acknowledge a delivery (Telegram offsets, webhooks) call ``accept`` first,
acknowledge, then ``process``; whatever a crash leaves unprocessed is handled by ``recover`` at
the next start.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import failpoints
from bot.customers import VerifiedVia, link_phone
from bot.failed_messages import FailedMessages, frames_of
from bot.handoff_contract import AGENT_STATES, HandoffHooks
from bot.locks import ConversationLocks, KeyedLocks
from bot.messages import NO_REPLY, THREAD, InboundMessage, OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.personal import PersonalData
from bot.personal_policy import TAKES_A_NUMBER, Need, NeedAccount, PersonalFacts
from bot.policy import (
    ConversationView,
    Decision,
    DialoguePolicy,
    Turn,
    parse_payload,
)
from bot.storage import Conversation, ConversationState, Customer, Database, Identity, Message
from bot.verification import Event, audit, extract_code
from knowledge_base import KnowledgeBase
from nlu import NluClient, NluError, NluResult
from nlu.cache import ParseCache
from nlu.languages import DEFAULT_LANG

DEFAULT_MAX_ATTEMPTS = 3
CONTACT_CHANNELS = frozenset({"telegram"})  # shared contacts the platform proves are the user's
PENDING = "pending"  # conversations.context: a personal question waiting for a verification
REDACTED_CODE = "••••••"  # what the transcript keeps of a message that held a one-time code

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


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a message will meet, read before the NLU call: its identity (None: a new
    subscriber), the open conversation it joins (None: a new one), and whether an older
    message of that conversation is still unanswered."""

    identity: Identity | None
    conversation: Conversation | None
    waiting: bool


class _Changed(Exception):
    """The conversation changed between the snapshot and the transaction."""


class _PassFailed(Exception):
    """The one-transaction answer raised: a failed pass of a message not yet stored."""


class Conversations:
    def __init__(
        self,
        db: Database,
        nlu: NluClient,
        policy: DialoguePolicy,
        handoff: HandoffHooks,
        notifier: Notifier,
        *,
        kb: KnowledgeBase,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        personal: PersonalData | None = None,
        contact_channels: frozenset[str] = CONTACT_CHANNELS,
        pulled_channels: frozenset[str] = frozenset(),
    ) -> None:
        """``kb`` gives the ``processing_failed`` phrase; ``max_attempts`` is how many failed
        passes a message gets before it is marked failed (Settings.processing_max_attempts);
        ``personal``: billing and verification (without it nobody is verified by code and
        personal questions get the general articles); ``contact_channels``: the channels whose
        shared contacts the platform proves (Telegram); ``pulled_channels``: channels whose
        replies are delivered by being stored (the web chat's page reads them), so their
        outbox rows are written as sent and cost the sender nothing."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._db = db
        self._nlu = nlu
        self._policy = policy
        self._handoff = handoff
        self._notifier = notifier
        self._max_attempts = max_attempts
        self._failures = FailedMessages(db, kb, handoff, notifier)
        self._identity_locks = KeyedLocks()
        self._locks = ConversationLocks(db)
        self._personal = personal
        self._contact_channels = contact_channels
        self._pulled = pulled_channels

    # -- the public surface ----------------------------------------------------------------

    async def receive(self, inbound: InboundMessage) -> Received:
        """Store one message and answer it; the answer is what was stored.

        When nothing older of its conversation waits, this is one transaction (the NLU parse
        and a billing lookup happen before it opens) and the answer is the decision just
        stored. Otherwise, and whenever that cannot finish (the conversation changed meanwhile,
        a concurrent first message, an error), it is ``accept`` + ``process``, whose rules (a
        failing message is counted, then handed to a person) apply as for every channel.
        """
        try:
            received = await self._answer_at_once(inbound)
        except _PassFailed:
            received, attempts = None, 1  # that was its first pass
        else:
            attempts = 0
        if received is not None:
            return received
        accepted = await self.accept(inbound, attempts=attempts)
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

    async def accept(self, inbound: InboundMessage, *, attempts: int = 0) -> Accepted:
        """Store the message (once). Safe to call again with the same channel message id from
        the same sender: the id only has to be unique per sender (identity), not per channel.
        ``attempts``: failed passes it already had (counted towards giving up)."""
        key = _identity_key(inbound)
        async with self._identity_locks.hold(key):
            existing = await self._find_inbound(inbound)
            if existing is not None:
                return existing
            try:
                async with self._db.transaction() as session:
                    conversation, _identity, _created = await self._open_conversation(
                        session, inbound
                    )
                    stored = _inbound_row(conversation, inbound, attempts=attempts)
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
        """Answer every stored, unanswered message of the conversation, oldest first.

        A message whose processing raises is tried again at once, up to ``max_attempts`` passes
        counted in the database (so the count survives a restart); then it is marked failed, the
        subscriber is told and the conversation goes to a person, and the next message is
        handled: one poison message never wedges a conversation. An error that cannot even be
        counted (the database is down) propagates; the recovery sweep retries later.
        """
        async with self._locks.hold(_conversation_key(conversation_id)):
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
                    if pending is None:
                        return
                    conversation = await session.get(Conversation, conversation_id)
                    identity = (await session.get(Identity, conversation.identity_id)
                                if conversation is not None else None)
                if conversation is None or identity is None:
                    return
                if pending.attempts >= self._max_attempts:  # a pass gave up but did not finish
                    await self._failures.give_up(conversation_id, pending.id, pending.attempts, None)
                    continue
                try:
                    await self._process_one(conversation, identity, pending)
                except Exception as exc:  # noqa: BLE001 - any error is a failed pass, counted
                    attempts = await self._failures.count_attempt(pending.id)
                    if attempts >= self._max_attempts:
                        await self._failures.give_up(conversation_id, pending.id, attempts, exc)
                    else:
                        log.warning(
                            "message %s of conversation %s failed (%s), attempt %d of %d",
                            pending.id, conversation_id, type(exc).__name__, attempts,
                            self._max_attempts,
                        )

    async def close(self) -> None:
        await self._locks.close()

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
            except Exception as exc:  # noqa: BLE001 - one conversation must not stop the rest
                log.error("recovery of conversation %s failed (%s)%s", conversation_id,
                          type(exc).__name__, frames_of(exc))
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
        """The stored copy of this delivery: same sender (identity), same channel message id."""
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(Message.id, Message.conversation_id)
                    .join(Identity, Identity.id == Message.identity_id)
                    .where(
                        Identity.channel == inbound.channel,
                        Identity.channel_user_id == inbound.channel_user_id,
                        Message.channel_message_id == inbound.channel_message_id,
                    )
                )
            ).first()
        return Accepted(row.id, row.conversation_id, duplicate=True) if row else None

    async def _open_conversation(
        self, session: AsyncSession, inbound: InboundMessage
    ) -> tuple[Conversation, Identity, bool]:
        """The conversation this message joins (and its identity), made when there is none;
        ``True`` when made now."""
        identity = await session.scalar(
            select(Identity)
            .where(
                Identity.channel == inbound.channel,
                Identity.channel_user_id == inbound.channel_user_id,
            )
            # one writer per identity (PostgreSQL): two first messages of a returning
            # subscriber on two replicas never open two conversations
            .with_for_update()
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
            latest = None
        else:
            if inbound.reply_address != identity.address:
                identity.address = inbound.reply_address
            if inbound.display_name and inbound.display_name != identity.display_name:
                identity.display_name = inbound.display_name  # renamed, or unknown at first
            if identity.blocked_at is not None:  # they wrote again, so they unblocked the bot
                identity.blocked_at = None
            latest = await _open_one(session, identity.id, _thread_key(inbound), lock=True)
        if inbound.contact is not None and inbound.contact.verified:
            await link_phone(session, identity.id, inbound.contact.phone, via=VerifiedVia.CONTACT,
                             now=utcnow())
            audit(session, identity.id, inbound.contact.phone, Event.CONTACT)
        if latest is not None:
            return latest, identity, False
        conversation = Conversation(
            id=uuid.uuid4().hex,
            customer_id=identity.customer_id,
            identity_id=identity.id,
            channel=inbound.channel,
            state=ConversationState.BOT,
            lang=inbound.lang,
            misunderstandings=0,
            context={},
            thread_key=_thread_key(inbound),
        )
        session.add(conversation)
        await session.flush()
        return conversation, identity, True

    # -- one transaction for a message: the lean path of ``receive`` -------------------------

    async def _answer_at_once(self, inbound: InboundMessage) -> Received | None:
        """Accept, decide, store the replies and the outbox in one transaction; None when the
        message must take the two-step path instead (nothing of it is stored then)."""
        if inbound.metadata.get(NO_REPLY):
            return None
        key = _identity_key(inbound)
        async with self._identity_locks.hold(key):
            seen = await self._snapshot(inbound)
            if seen is None or seen.waiting:
                return None  # a repeated delivery, or an older message is still unanswered
            try:
                return await self._answer_now(inbound, seen)
            except (_Changed, IntegrityError):
                return None
            except Exception as exc:  # the two-step path counts it as the first pass
                log.warning("one-transaction answer of a %s message failed (%s); storing it "
                            "first instead%s", inbound.channel, type(exc).__name__,
                            frames_of(exc))
                raise _PassFailed from exc

    async def _answer_now(self, inbound: InboundMessage,
                          seen: _Snapshot) -> Received | None:
        probe = seen.conversation or _new_conversation(inbound)
        turn = _turn_of(_inbound_row(probe, inbound))
        nlu: NluResult | None = None
        facts: PersonalFacts | None = None
        if probe.state not in AGENT_STATES:
            if not _holds_secret(probe, inbound.text):
                nlu = await self._understand(probe, turn)
            if self._personal is not None and (seen.identity is not None
                                               or inbound.contact is not None):
                if seen.identity is None:
                    return None  # a shared contact verifies a new identity: two steps
                need, phone = await self._need(probe, seen.identity, turn, nlu)
                if need is not None and not isinstance(need, NeedAccount):
                    return None  # codes, roaming, logout act outside: never twice
                if need is not None:
                    facts = await self._personal.gather(
                        need, identity_id=seen.identity.id, phone=phone, text=inbound.text
                    )
        return await self._store_answer(inbound, seen, turn, nlu, facts)

    async def _snapshot(self, inbound: InboundMessage) -> _Snapshot | None:
        """None for a delivery already stored."""
        async with self._db.sessions() as session:
            identity = await session.scalar(
                select(Identity).where(
                    Identity.channel == inbound.channel,
                    Identity.channel_user_id == inbound.channel_user_id,
                )
            )
            if identity is None:
                return _Snapshot(None, None, waiting=False)
            seen = await session.scalar(
                select(Message.id).where(
                    Message.identity_id == identity.id,
                    Message.channel_message_id == inbound.channel_message_id,
                )
            )
            if seen is not None:
                return None
            conversation = await _open_one(session, identity.id, _thread_key(inbound))
            waiting = conversation is not None and bool(
                await session.scalar(select(_unanswered(conversation.id)))
            )
        return _Snapshot(identity, conversation, waiting)

    async def _store_answer(
        self,
        inbound: InboundMessage,
        seen: _Snapshot,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
    ) -> Received:
        before = seen.conversation
        conversation_lock = (self._locks.local(_conversation_key(before.id))
                             if before is not None else contextlib.nullcontext())
        # Across processes the rows order this: the identity and the open conversation are
        # read FOR UPDATE, as accept() and process() read them, and an older message still
        # unanswered sends this one the two-step way.
        async with conversation_lock, self._db.transaction() as session:
            convo, identity, created = await self._open_conversation(session, inbound)
            if before is None:
                if not created:
                    raise _Changed
            elif (convo.id != before.id or _decisive(convo) != _decisive(before)
                  or await session.scalar(select(_unanswered(convo.id)))):
                raise _Changed
            if seen.identity is not None and (
                identity.verified_phone, identity.verified_at
            ) != (seen.identity.verified_phone, seen.identity.verified_at):
                raise _Changed  # the facts were gathered for another verification
            message = _inbound_row(convo, inbound)
            session.add(message)
            await session.flush()
            replies = await self._handle(session, convo, identity, message, turn, nlu, facts)
            state = convo.state
        self._published(replies, inbound.channel)
        failpoints.hit(failpoints.AFTER_ANSWER_STORED)
        return Received(conversation_id=convo.id, state=state, message_id=message.id,
                        duplicate=False, replies=tuple(replies))

    async def _process_one(
        self, conversation: Conversation, identity: Identity, message: Message
    ) -> None:
        turn = _turn_of(message)
        nlu: NluResult | None = None
        facts: PersonalFacts | None = None
        if conversation.state not in AGENT_STATES:
            if not _holds_secret(conversation, message.text):  # a code is never parsed
                nlu = await self._understand(conversation, turn)
            facts = await self._gather(conversation, identity, turn, nlu, message.text)
        async with self._db.transaction() as session:
            fresh = await session.get(Message, message.id, with_for_update=True)
            convo = await session.get(Conversation, conversation.id, with_for_update=True)
            if fresh is None or convo is None or fresh.processed_at is not None:
                return
            current = await session.get(Identity, convo.identity_id)
            assert current is not None
            replies = await self._handle(session, convo, current, fresh, turn, nlu, facts)
        self._published(replies, conversation.channel)

    async def _handle(
        self,
        session: AsyncSession,
        convo: Conversation,
        identity: Identity,
        message: Message,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
    ) -> list[StoredReply]:
        """Decide (the handoff first, then the policy) and store the replies and their outbox
        rows; the caller owns the transaction."""
        view = self._view(convo, identity)
        lang = self._policy.language(view, turn, nlu)  # decided once, for both below
        replies = await self._handoff.intercept(session, convo, message, nlu=nlu, lang=lang)
        if replies is None:
            replies = await self._decide(session, convo, message, view, turn, nlu, facts)
        elif nlu is not None:
            _record_nlu(message, nlu)
        delivered = convo.channel in self._pulled
        stored = []
        for reply in replies:
            reply_id = await enqueue_reply(
                session, conversation=convo, address=identity.address, message=reply,
                reply_to_id=message.id, delivered=delivered,
            )
            stored.append(StoredReply(reply_id, reply))
        now = utcnow()
        message.processed_at = now
        convo.updated_at = now
        return stored

    def _published(self, replies: list[StoredReply], channel: str) -> None:
        self._notifier.messages.publish()
        if replies and channel not in self._pulled:  # pulled replies need no sender
            self._notifier.outbox.publish()

    async def _understand(self, conversation: Conversation, turn: Turn) -> NluResult | None:
        lang = turn.lang_hint or conversation.lang or DEFAULT_LANG
        if turn.payload:
            parsed = parse_payload(turn.payload, lang)
            if parsed is not None:
                return parsed
            turn_text = turn.payload
        else:
            turn_text = turn.text
        if not turn_text.strip() or turn.command:
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
        view: ConversationView,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
    ) -> list[OutboundMessage]:
        decision = self._policy.decide(view, turn, nlu, facts)
        if nlu is not None:
            _record_nlu(message, nlu)
        message.lang = decision.lang
        if decision.redact_text:
            message.text = REDACTED_CODE
        return await self._apply(session, convo, decision)

    async def _apply(
        self, session: AsyncSession, convo: Conversation, decision: Decision
    ) -> list[OutboundMessage]:
        convo.lang = decision.lang
        convo.misunderstandings = decision.misunderstandings
        convo.awaiting = decision.awaiting
        if (convo.context or {}).get(PENDING) != decision.pending:
            convo.context = {**(convo.context or {}), PENDING: decision.pending}
        if convo.state == ConversationState.CLOSED:  # a late answer (e.g. a rating) reopens nothing
            convo.awaiting = None
        replies = list(decision.replies)
        if decision.escalate:
            replies += await self._handoff.escalate(
                session, convo, reason=decision.escalate, lang=decision.lang
            )
        return replies

    async def _gather(self, conversation: Conversation, identity: Identity, turn: Turn,
                      nlu: NluResult | None, text: str) -> PersonalFacts | None:
        """Before the transaction: end a lapsed verification, then fetch what the turn needs
        (billing, SMS) so no outside call holds the database."""
        if self._personal is None:
            return None
        need, phone = await self._need(conversation, identity, turn, nlu)
        if need is None:
            return None
        return await self._personal.gather(need, identity_id=identity.id, phone=phone, text=text)

    async def _need(self, conversation: Conversation, identity: Identity, turn: Turn,
                    nlu: NluResult | None) -> tuple[Need | None, str | None]:
        """What the turn needs from outside, and the identity's current verified number (a
        lapsed verification ends here)."""
        assert self._personal is not None
        phone = await self._personal.current_phone(
            identity.id, identity.channel, identity.verified_phone, identity.verified_at
        )
        view = replace(self._view(conversation, identity), verified_phone=phone)
        return self._policy.needs(view, turn, nlu), phone

    def _view(self, convo: Conversation, identity: Identity) -> ConversationView:
        phone = identity.verified_phone
        if phone is not None and self._personal is not None:
            verified_at = identity.verified_at
            if verified_at is None or not self._personal.is_current(identity.channel,
                                                                    verified_at):
                phone = None  # lapsed: ended for good before the next answer
        return ConversationView(
            state=convo.state,
            lang=convo.lang or DEFAULT_LANG,
            misunderstandings=convo.misunderstandings,
            awaiting=convo.awaiting,
            verified_phone=phone,
            pending=(convo.context or {}).get(PENDING),
            can_share_contact=convo.channel in self._contact_channels,
        )

    async def _replies_to(self, session: AsyncSession, message_id: int) -> tuple[StoredReply, ...]:
        rows = (
            await session.scalars(
                select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
            )
        ).all()
        return tuple(StoredReply(row.id, _outbound(row)) for row in rows)


def _identity_key(inbound: InboundMessage) -> str:
    return f"identity:{inbound.channel}:{inbound.channel_user_id}"


def _conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _inbound_row(conversation: Conversation, inbound: InboundMessage, *,
                 attempts: int = 0) -> Message:
    return Message(
        conversation_id=conversation.id,
        identity_id=conversation.identity_id,
        direction="in",
        sender="subscriber",
        channel=inbound.channel,
        channel_message_id=inbound.channel_message_id,
        text=inbound.text,
        payload=inbound.payload,
        attachments={"kinds": list(inbound.attachments)} if inbound.attachments else None,
        meta=_json_safe(inbound),
        lang=inbound.lang,
        created_at=inbound.received_at,
        # kept for the transcript, never answered (a mail loop, a bounce)
        processed_at=utcnow() if inbound.metadata.get(NO_REPLY) else None,
        attempts=attempts,
    )


def _turn_of(message: Message) -> Turn:
    return Turn(
        text=message.text,
        payload=message.payload,
        attachments=tuple((message.attachments or {}).get("kinds", ())),
        lang_hint=message.lang,
        contact_verified=(message.meta or {}).get("contact_verified"),
    )


def _new_conversation(inbound: InboundMessage) -> Conversation:
    """What a first message meets (never stored: the transaction makes the real one)."""
    return Conversation(channel=inbound.channel, state=ConversationState.BOT, lang=inbound.lang,
                        misunderstandings=0, awaiting=None, context={})


async def _open_one(session: AsyncSession, identity_id: int, thread: str | None, *,
                    lock: bool = False) -> Conversation | None:
    """The identity's latest conversation in this thread, unless it is over (closed and not
    waiting for an answer such as a rating). ``lock``: FOR UPDATE (PostgreSQL)."""
    query = (
        select(Conversation)
        .where(Conversation.identity_id == identity_id)
        .where(Conversation.thread_key == thread if thread is not None
               else Conversation.thread_key.is_(None))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    latest = await session.scalar(query.with_for_update() if lock else query)
    if latest is not None and (latest.state != ConversationState.CLOSED or latest.awaiting):
        return latest
    return None


def _unanswered(conversation_id: str) -> Exists:
    return exists().where(
        Message.conversation_id == conversation_id,
        Message.direction == "in",
        Message.processed_at.is_(None),
    )


def _decisive(conversation: Conversation) -> tuple[object, ...]:
    """What the NLU call and the gathered facts were based on."""
    return (conversation.state, conversation.awaiting, conversation.lang,
            conversation.misunderstandings, conversation.context)


def _holds_secret(conversation: Conversation, text: str) -> bool:
    """While a number or a code is awaited, a message with one in it is not sent to the NLU
    at all (it is the verification's, and it is personal)."""
    return conversation.awaiting in TAKES_A_NUMBER and (
        extract_code(text) is not None or not ParseCache.keeps(text)
    )


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


def _thread_key(inbound: InboundMessage) -> str | None:
    thread = inbound.metadata.get(THREAD)
    return str(thread)[:255] if thread else None


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
