"""Conversations: store every inbound message, then handle each conversation in order.

``receive`` = ``accept`` (store, idempotent on the sender's identity + the channel's message id)
+ ``process`` (understand and answer everything not yet answered, oldest first; a message that
keeps failing is marked failed and handed to a person, so it never blocks the ones after it).
Channels that must acknowledge a delivery (Telegram offsets, webhooks) call ``accept`` first,
acknowledge, then ``process``; whatever a crash leaves unprocessed is handled by ``recover`` at
the next start. ``receive`` (the web chat, whose answer is the HTTP response) does both in ONE
transaction when nothing older of the conversation waits: the NLU parse happens before it
opens, and the answer returned is the one just stored.

What is decided for a message is :mod:`bot.turns`'s; the rows it reads and writes are
:mod:`bot.conversation_rows`'s.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import failpoints
from bot.conversation_rows import (
    conversation_key,
    decisive,
    identity_key,
    inbound_row,
    new_conversation,
    open_conversation,
    open_one,
    outbound_of,
    thread_key,
    turn_of,
    unanswered,
)
from bot.failed_messages import FailedMessages, frames_of
from bot.handoff_contract import AGENT_STATES, HandoffHooks
from bot.locks import ConversationLocks, KeyedLocks
from bot.messages import NO_REPLY, InboundMessage
from bot.notify import Notifier
from bot.personal import PersonalData
from bot.personal_policy import NeedAccount, PersonalFacts
from bot.policy import DialoguePolicy, Turn
from bot.storage import LOCK_ROW, Conversation, Database, Identity, Message
from bot.turns import CONTACT_CHANNELS, StoredReply, Turns, holds_secret
from knowledge_base import KnowledgeBase
from nlu import NluClient, NluResult

__all__ = ["Accepted", "Conversations", "Received", "StoredReply"]

DEFAULT_MAX_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    conversation_id: str
    duplicate: bool


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
        the rest is the turns' (:class:`bot.turns.Turns`)."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._db = db
        self._turns = Turns(nlu, policy, handoff, personal=personal,
                            contact_channels=contact_channels, pulled_channels=pulled_channels)
        self._notifier = notifier
        self._max_attempts = max_attempts
        self._failures = FailedMessages(db, kb, handoff, notifier)
        self._identity_locks = KeyedLocks()
        self._locks = ConversationLocks(db)

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
        key = identity_key(inbound)
        async with self._identity_locks.hold(key):
            existing = await self._find_inbound(inbound)
            if existing is not None:
                return existing
            try:
                async with self._db.transaction() as session:
                    conversation, _identity, _created = await open_conversation(
                        session, inbound
                    )
                    stored = inbound_row(conversation, inbound, attempts=attempts)
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
        async with self._locks.hold(conversation_key(conversation_id)):
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
        return [StoredReply(row.id, outbound_of(row)) for row in rows], state

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

    # -- one transaction for a message: the lean path of ``receive`` -------------------------

    async def _answer_at_once(self, inbound: InboundMessage) -> Received | None:
        """Accept, decide, store the replies and the outbox in one transaction; None when the
        message must take the two-step path instead (nothing of it is stored then)."""
        if inbound.metadata.get(NO_REPLY):
            return None
        key = identity_key(inbound)
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
        probe = seen.conversation or new_conversation(inbound)
        turn = turn_of(inbound_row(probe, inbound))
        nlu: NluResult | None = None
        facts: PersonalFacts | None = None
        if probe.state not in AGENT_STATES:
            if not holds_secret(probe, inbound.text):
                nlu = await self._turns.understand(probe, turn)
            if self._turns.personal is not None and (seen.identity is not None
                                               or inbound.contact is not None):
                if seen.identity is None:
                    return None  # a shared contact verifies a new identity: two steps
                need, phone = await self._turns.need(probe, seen.identity, turn, nlu)
                if need is not None and not isinstance(need, NeedAccount):
                    return None  # codes, roaming, logout act outside: never twice
                if need is not None:
                    facts = await self._turns.personal.gather(
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
            conversation = await open_one(session, identity.id, thread_key(inbound))
            waiting = conversation is not None and bool(
                await session.scalar(select(unanswered(conversation.id)))
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
        conversation_lock = (self._locks.local(conversation_key(before.id))
                             if before is not None else contextlib.nullcontext())
        # Across processes the rows order this: the identity and the open conversation are
        # read FOR UPDATE, as accept() and process() read them, and an older message still
        # unanswered sends this one the two-step way.
        async with conversation_lock, self._db.transaction() as session:
            convo, identity, created = await open_conversation(session, inbound)
            if before is None:
                if not created:
                    raise _Changed
            elif (convo.id != before.id or decisive(convo) != decisive(before)
                  or await session.scalar(select(unanswered(convo.id)))):
                raise _Changed
            if seen.identity is not None and (
                identity.verified_phone, identity.verified_at
            ) != (seen.identity.verified_phone, seen.identity.verified_at):
                raise _Changed  # the facts were gathered for another verification
            message = inbound_row(convo, inbound)
            session.add(message)
            await session.flush()
            replies = await self._turns.handle(session, convo, identity, message, turn, nlu, facts)
            state = convo.state
        self._published(replies, inbound.channel)
        failpoints.hit(failpoints.AFTER_ANSWER_STORED)
        return Received(conversation_id=convo.id, state=state, message_id=message.id,
                        duplicate=False, replies=tuple(replies))

    async def _process_one(
        self, conversation: Conversation, identity: Identity, message: Message
    ) -> None:
        turn = turn_of(message)
        nlu: NluResult | None = None
        facts: PersonalFacts | None = None
        if conversation.state not in AGENT_STATES:
            if not holds_secret(conversation, message.text):  # a code is never parsed
                nlu = await self._turns.understand(conversation, turn)
            facts = await self._turns.gather(conversation, identity, turn, nlu, message.text)
        async with self._db.transaction() as session:
            fresh = await session.get(Message, message.id, with_for_update=LOCK_ROW)
            convo = await session.get(Conversation, conversation.id, with_for_update=LOCK_ROW)
            if fresh is None or convo is None or fresh.processed_at is not None:
                return
            current = await session.get(Identity, convo.identity_id)
            assert current is not None
            replies = await self._turns.handle(session, convo, current, fresh, turn, nlu, facts)
        self._published(replies, conversation.channel)

    def _published(self, replies: list[StoredReply], channel: str) -> None:
        self._notifier.messages.publish()
        if replies and channel not in self._turns.pulled:  # pulled replies need no sender
            self._notifier.outbox.publish()

    async def _replies_to(self, session: AsyncSession, message_id: int) -> tuple[StoredReply, ...]:
        rows = (
            await session.scalars(
                select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
            )
        ).all()
        return tuple(StoredReply(row.id, outbound_of(row)) for row in rows)


