"""Messages whose processing keeps failing: count the failed passes in the database (so the
count survives a restart), then mark the message failed and processed, tell the subscriber
honestly and hand the conversation to a person, logging it once and never with its text.
:class:`bot.conversations.Conversations` decides when; this module does it.
"""

from __future__ import annotations

import logging
import traceback

from sqlalchemy import select, update

from bot.handoff_contract import AGENT_STATES, HandoffHooks
from bot.messages import OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.reasons import Reason
from bot.storage import LOCK_ROW, Conversation, Database, Identity, Message
from knowledge_base import KnowledgeBase, PhraseKey
from nlu.languages import DEFAULT_LANG

log = logging.getLogger("bot.conversations")  # one place to look for a conversation's troubles


class FailedMessages:
    def __init__(
        self, db: Database, kb: KnowledgeBase, handoff: HandoffHooks, notifier: Notifier
    ) -> None:
        self._db = db
        self._kb = kb
        self._handoff = handoff
        self._notifier = notifier

    async def count_attempt(self, message_id: int) -> int:
        """One more failed pass of the message, committed at once; returns the count."""
        async with self._db.transaction() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(attempts=Message.attempts + 1)
            )
            attempts = await session.scalar(
                select(Message.attempts).where(Message.id == message_id)
            )
        return attempts or 0

    async def give_up(
        self, conversation_id: str, message_id: int, attempts: int, exc: BaseException | None
    ) -> None:
        """Mark the message failed (and processed), tell the subscriber, hand the conversation
        to a person, and log it once, without the message's text."""
        try:
            done = await self._mark_failed(conversation_id, message_id, escalate=True)
        except Exception as handoff_exc:  # noqa: BLE001 - the handoff may be what fails
            log.warning("handing conversation %s to a person failed (%s)", conversation_id,
                        type(handoff_exc).__name__)
            done = await self._mark_failed(conversation_id, message_id, escalate=False)
        if not done:
            return
        log.error(
            "message %s of conversation %s failed %d time(s) (%s); marked failed and handed to "
            "a person%s",
            message_id, conversation_id, attempts,
            type(exc).__name__ if exc is not None else "in an earlier run", frames_of(exc),
        )

    async def _mark_failed(self, conversation_id: str, message_id: int, *, escalate: bool) -> bool:
        async with self._db.transaction() as session:
            message = await session.get(Message, message_id, with_for_update=LOCK_ROW)
            convo = await session.get(Conversation, conversation_id, with_for_update=LOCK_ROW)
            if message is None or convo is None or message.processed_at is not None:
                return False
            identity = await session.get(Identity, convo.identity_id)
            assert identity is not None
            lang = message.lang or convo.lang or DEFAULT_LANG
            replies = [OutboundMessage(text=self._kb.phrase(PhraseKey.PROCESSING_FAILED, lang))]
            if escalate and convo.state not in AGENT_STATES:
                replies += await self._handoff.escalate(
                    session, convo, reason=Reason.PROCESSING_FAILED, lang=lang
                )
            for reply in replies:
                await enqueue_reply(
                    session, conversation=convo, address=identity.address, message=reply,
                    reply_to_id=message.id,
                )
            now = utcnow()
            message.failed_at = message.processed_at = now
            convo.updated_at = now
        self._notifier.messages.publish()
        if replies:
            self._notifier.outbox.publish()
        return True


def frames_of(exc: BaseException | None) -> str:
    """Where an exception came from, for the log, without its message: that may quote what
    the subscriber wrote (personal data never reaches a log)."""
    if exc is None or exc.__traceback__ is None:
        return ""
    return "\n" + "".join(traceback.format_tb(exc.__traceback__)).rstrip()
