"""Store first, mark read second: the one path every incoming mail takes.

``store(uid, raw)`` is what the IMAP reader calls for each new mail; only when it returns does
the reader set ``\\Seen`` and move its cursor. A mail becomes an :class:`InboundMessage` of the
sender's address, in its thread's conversation (``THREAD``), idempotent on its Message-ID: a
mail delivered twice (or read again after a crash) is stored and answered once.

Never answered, only stored for agents (``NO_REPLY``, with the reason): auto-replies, bounces,
list mail, our own mail and the other RFC 3834 cases (``loop_guard``), and mail from a sender who
already got ``EMAIL_AUTO_REPLIES_PER_HOUR`` automatic replies in the last hour (two robots
answering each other must not run forever), and mail written more than 14 days ago (an old
mailbox connected for the first time is for people to go through).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot import failpoints
from bot.conversations import Conversations
from bot.messages import NO_REPLY, THREAD, InboundMessage, utcnow
from bot.storage import Conversation, ConversationState, Database, Identity, Message
from channels.common.worker import ConversationWorker
from channels.email.compose import read_number_reply
from channels.email.parsing import ParsedMail, parse_mail
from channels.email.threads import ThreadIndex

log = logging.getLogger(__name__)

EMAIL = "email"
MAX_REPLY_AGE = timedelta(days=14)


class EmailIntake:
    def __init__(
        self,
        *,
        db: Database,
        conversations: Conversations,
        threads: ThreadIndex,
        worker: ConversationWorker,
        own_addresses: tuple[str, ...],
        auto_replies_per_hour: int = 10,
    ) -> None:
        self._db = db
        self._conversations = conversations
        self._threads = threads
        self._worker = worker
        self._own = own_addresses
        self._per_hour = auto_replies_per_hour

    async def store(self, uid: int, raw: bytes) -> None:
        """Store the mail (once). Storage errors propagate: the reader then leaves the mail
        unread and offers it again."""
        mail = parse_mail(raw, own_addresses=self._own)
        if not mail.sender:
            log.warning("email: mail uid %s has no readable sender address; left for a person "
                        "to read in the mailbox", uid)
            return
        thread = await self._threads.thread_of(mail, mail.sender)
        no_reply = mail.loop_reason or _too_old(mail)
        if no_reply is None and not await self._with_people(mail.sender, thread):
            no_reply = await self._over_rate(mail.sender, mail.message_id)
        inbound = InboundMessage(
            channel=EMAIL,
            channel_user_id=mail.sender,
            channel_message_id=mail.message_id,
            text=mail.text,
            payload=await self._chosen_button(mail, thread) if not no_reply else None,
            address=mail.sender,
            attachments=mail.attachments,
            display_name=mail.sender_name,
            metadata=_metadata(mail, thread, no_reply),
        )
        accepted = await self._conversations.accept(inbound)
        failpoints.hit(failpoints.AFTER_ACCEPT)
        await self._threads.record(message_id=mail.message_id, thread_key=thread,
                                   address=mail.sender, subject=mail.subject, direction="in")
        if no_reply:
            log.info("email: mail uid %s stored for agents, not answered (%s)", uid, no_reply)
        else:  # also for a duplicate: it may be stored but not yet answered (a crash)
            self._worker.submit(accepted.conversation_id)

    async def _with_people(self, sender: str, thread: str) -> bool:
        """Whether the thread's conversation is a person's business (waiting for or with an
        agent, or awaiting the rating): the limit is on the bot's answers, never on mail to an
        agent."""
        async with self._db.sessions() as session:
            latest = (await session.execute(
                select(Conversation.state, Conversation.awaiting)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.channel == EMAIL, Identity.channel_user_id == sender,
                       Conversation.thread_key == thread)
                .order_by(Conversation.created_at.desc(), Conversation.id.desc()).limit(1)
            )).first()
        if latest is None:
            return False
        state, awaiting = latest
        return state in (ConversationState.WAITING_AGENT, ConversationState.WITH_AGENT) or (
            state == ConversationState.CLOSED and awaiting is not None)

    async def _over_rate(self, sender: str, message_id: str) -> str | None:
        """Automatic replies sent to the sender in the last hour, and mail of theirs still
        waiting for one (a burst arrives faster than the bot answers)."""
        since = utcnow() - timedelta(hours=1)
        async with self._db.sessions() as session:
            sent = await session.scalar(
                select(func.count(Message.id))
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.channel == EMAIL, Identity.channel_user_id == sender,
                       Message.direction == "out", Message.sender == "bot",
                       Message.created_at >= since)
            )
            waiting = await session.scalar(
                select(func.count(Message.id))
                .join(Identity, Identity.id == Message.identity_id)
                .where(Identity.channel == EMAIL, Identity.channel_user_id == sender,
                       Message.direction == "in", Message.processed_at.is_(None),
                       Message.channel_message_id != message_id)
            )
        if (sent or 0) + (waiting or 0) >= self._per_hour:
            return f"over {self._per_hour} automatic replies an hour to this sender"
        return None

    async def _chosen_button(self, mail: ParsedMail, thread: str) -> str | None:
        """A reply that is only a number ("2") picks that button of our last reply in the
        thread (buttons go out as a numbered list)."""
        async with self._db.sessions() as session:
            buttons = await session.scalar(
                select(Message.buttons)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.channel == EMAIL, Identity.channel_user_id == mail.sender,
                       Conversation.thread_key == thread, Message.direction == "out")
                .order_by(Message.id.desc()).limit(1)
            )
        items = list((buttons or {}).get("items") or ())
        choice = read_number_reply(mail.text, len(items)) if items else None
        if choice is None:
            return None
        payload = items[choice - 1].get("payload")
        return str(payload) if payload else None


def _too_old(mail: ParsedMail) -> str | None:
    """Old unread mail (a mailbox connected for the first time) is for people to read: an
    automatic answer weeks later helps nobody."""
    if mail.date is not None and mail.date < utcnow() - MAX_REPLY_AGE:
        return f"written more than {MAX_REPLY_AGE.days} days ago"
    return None


def _metadata(mail: ParsedMail, thread: str, no_reply: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        THREAD: thread,
        "email_message_id": mail.message_id,
        "email_subject": mail.subject[:500],
        "email_references": " ".join(mail.references)[-3000:],
    }
    if no_reply:
        metadata[NO_REPLY] = no_reply
    if mail.date is not None:
        metadata["email_date"] = mail.date.isoformat()
    return metadata
