"""``EmailChannel.send``: one reply as one e-mail in the subscriber's thread, through SMTP.

The outbox hands over the reply with its row id (``DELIVERY_ID``); from it the channel finds the
mail being answered (the one the bot's reply answers; for an agent's reply or a notice, the
latest mail of the conversation before it) and threads the
answer: ``Subject: Re: <subject>`` (never "Re: Re:"), ``In-Reply-To`` that mail,
``References`` its chain plus it. The Message-ID is derived from the conversation and the row,
so a send retried after a lost SMTP answer carries the same id and mail clients show it once.
The bot's replies carry ``Auto-Submitted: auto-replied`` (RFC 3834), an agent's do not.
Buttons become a numbered list; a reply with just the number picks one (``intake``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.channel import PermanentChannelError
from bot.messages import DELIVERY_ID, OutboundMessage
from bot.storage import Conversation, Database, Message, OutboxItem
from channels.email.compose import compose_reply, numbered_buttons
from channels.email.intake import EMAIL
from channels.email.smtp_sender import SmtpSender
from channels.email.subjects import reply_subject
from channels.email.threads import ThreadIndex
from knowledge_base import KnowledgeBase, PhraseKey


@dataclass(frozen=True, slots=True)
class _Answered:
    """What the reply answers: the mail's id, chain and subject, and the conversation."""

    conversation_id: str
    thread_key: str | None
    lang: str
    message_id: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""


class EmailChannel:
    name = EMAIL
    per_address_interval = 0.0  # replies to one address go in order through the outbox
    global_rate = 2.0  # mails a second at most: providers limit sending per minute and per day

    def __init__(self, *, db: Database, sender: SmtpSender, threads: ThreadIndex,
                 kb: KnowledgeBase, from_address: str) -> None:
        self._db = db
        self._sender = sender
        self._threads = threads
        self._kb = kb
        self._from = from_address
        self._domain = from_address.rpartition("@")[2] or "abonent.invalid"

    async def send(self, address: str, message: OutboundMessage) -> None:
        if "@" not in address:
            raise PermanentChannelError("not an e-mail address")
        if not message.text.strip():
            raise PermanentChannelError("the reply has no text")
        delivery = message.metadata.get(DELIVERY_ID)
        answered = await self._answered(delivery) if delivery is not None else None
        lang = answered.lang if answered is not None else "ru"
        text = message.text
        if message.buttons:
            text = numbered_buttons(
                text, [b.title for b in message.buttons],
                hint=self._kb.phrase(PhraseKey.EMAIL_REPLY_WITH_NUMBER, lang),
            )
        mail = compose_reply(
            from_address=self._from,
            to_address=address,
            subject=reply_subject(answered.subject if answered else ""),
            in_reply_to=answered.message_id if answered else None,
            references=answered.references if answered else (),
            text=text,
            auto=message.sender == "bot",
            domain=self._domain,
        )
        if answered is not None and delivery is not None:
            del mail["Message-ID"]
            mail["Message-ID"] = f"<abonent.{answered.conversation_id[:16]}.{delivery}@" \
                                 f"{self._domain}>"
        await self._sender.send(mail, recipient=address)
        if answered is not None and answered.thread_key is not None:
            await self._threads.record(
                message_id=str(mail["Message-ID"]), thread_key=answered.thread_key,
                address=address, subject=answered.subject, direction="out",
            )

    async def _answered(self, delivery: object) -> _Answered | None:
        try:
            row_id = int(str(delivery))
        except ValueError:
            return None
        async with self._db.sessions() as session:
            row = await session.get(OutboxItem, row_id)
            if row is None:
                return None
            conversation = await session.get(Conversation, row.conversation_id)
            reply = await session.get(Message, row.message_id)
            mail = None
            if reply is not None and reply.reply_to_id is not None:  # the bot's answer to it
                mail = await session.get(Message, reply.reply_to_id)
            if mail is None:  # an agent's reply or a notice: the latest mail before it
                mail = await session.scalar(
                    select(Message)
                    .where(Message.conversation_id == row.conversation_id,
                           Message.direction == "in", Message.id < row.message_id)
                    .order_by(Message.id.desc()).limit(1)
                )
        thread = conversation.thread_key if conversation is not None else None
        lang = (conversation.lang if conversation is not None else None) or "ru"
        meta = (mail.meta or {}) if mail is not None else {}
        return _Answered(
            conversation_id=row.conversation_id,
            thread_key=thread,
            lang=lang,
            message_id=meta.get("email_message_id"),
            references=tuple(str(meta.get("email_references") or "").split()),
            subject=str(meta.get("email_subject") or ""),
        )
