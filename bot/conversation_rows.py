"""The rows of a conversation as the core reads and writes them: the conversation a message
joins (made when there is none), an inbound message's row and turn, and the small queries both
of the core's paths share."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.customers import VerifiedVia, link_phone
from bot.messages import NO_REPLY, THREAD, InboundMessage, OutboundMessage, utcnow
from bot.policy import Turn
from bot.storage import Conversation, ConversationState, Customer, Identity, Message
from bot.verification import Event, audit


async def open_conversation(
    session: AsyncSession, inbound: InboundMessage
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
        .with_for_update(key_share=True)
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
        latest = await open_one(session, identity.id, thread_key(inbound), lock=True)
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
        thread_key=thread_key(inbound),
    )
    session.add(conversation)
    await session.flush()
    return conversation, identity, True


def identity_key(inbound: InboundMessage) -> str:
    return f"identity:{inbound.channel}:{inbound.channel_user_id}"


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def inbound_row(conversation: Conversation, inbound: InboundMessage, *,
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
        meta=json_safe(inbound),
        lang=inbound.lang,
        created_at=inbound.received_at,
        # kept for the transcript, never answered (a mail loop, a bounce)
        processed_at=utcnow() if inbound.metadata.get(NO_REPLY) else None,
        attempts=attempts,
    )


def turn_of(message: Message) -> Turn:
    return Turn(
        text=message.text,
        payload=message.payload,
        attachments=tuple((message.attachments or {}).get("kinds", ())),
        lang_hint=message.lang,
        contact_verified=(message.meta or {}).get("contact_verified"),
    )


def new_conversation(inbound: InboundMessage) -> Conversation:
    """What a first message meets (never stored: the transaction makes the real one)."""
    return Conversation(channel=inbound.channel, state=ConversationState.BOT, lang=inbound.lang,
                        misunderstandings=0, awaiting=None, context={})


async def open_one(session: AsyncSession, identity_id: int, thread: str | None, *,
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
    latest = await session.scalar(query.with_for_update(key_share=True) if lock else query)
    if latest is not None and (latest.state != ConversationState.CLOSED or latest.awaiting):
        return latest
    return None


def unanswered(conversation_id: str) -> Exists:
    return exists().where(
        Message.conversation_id == conversation_id,
        Message.direction == "in",
        Message.processed_at.is_(None),
    )


def decisive(conversation: Conversation) -> tuple[object, ...]:
    """What the NLU call and the gathered facts were based on."""
    return (conversation.state, conversation.awaiting, conversation.lang,
            conversation.misunderstandings, conversation.context)


def outbound_of(row: Message) -> OutboundMessage:
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


def thread_key(inbound: InboundMessage) -> str | None:
    thread = inbound.metadata.get(THREAD)
    return str(thread)[:255] if thread else None


def json_safe(inbound: InboundMessage) -> dict[str, Any] | None:
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
