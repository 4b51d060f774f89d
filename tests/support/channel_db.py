"""What the app stored for one subscriber of a messaging channel (Telegram, VK...): their
identity, messages both ways, outbox rows, and whether everything was answered and sent."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage import Conversation, Database, Identity, Message, OutboxItem


async def find_identity(db: Database, channel: str, user_id: str) -> Identity | None:
    async with db.sessions() as session:
        return await session.scalar(select(Identity).where(
            Identity.channel == channel, Identity.channel_user_id == user_id))


async def stored_messages(
    db: Database, channel: str, user_id: str, direction: str | None = None
) -> list[Message]:
    """The user's messages, both ways unless ``direction`` ("in" | "out") says which."""
    query = (select(Message).join(Conversation, Conversation.id == Message.conversation_id)
             .join(Identity, Identity.id == Conversation.identity_id)
             .where(Identity.channel == channel, Identity.channel_user_id == user_id)
             .order_by(Message.id))
    if direction is not None:
        query = query.where(Message.direction == direction)
    async with db.sessions() as session:
        return list((await session.scalars(query)).all())


async def outbox_rows(db: Database, channel: str, address: str) -> list[OutboxItem]:
    async with db.sessions() as session:
        return list((await session.scalars(
            select(OutboxItem).where(OutboxItem.channel == channel,
                                     OutboxItem.address == address)
            .order_by(OutboxItem.id))).all())


async def delivered(db: Database, channel: str, user_id: str, address: str | None = None) -> bool:
    """Every inbound message answered and every reply out of the outbox (sent or failed)."""
    inbound = await stored_messages(db, channel, user_id, "in")
    outbox = await outbox_rows(db, channel, address or user_id)
    return bool(inbound) and all(m.processed_at is not None for m in inbound) \
        and all(row.status != "pending" for row in outbox)


async def latest_conversation(db: Database, channel: str, user_id: str) -> Conversation | None:
    identity = await find_identity(db, channel, user_id)
    if identity is None:
        return None
    async with db.sessions() as session:
        return await session.scalar(
            select(Conversation).where(Conversation.identity_id == identity.id)
            .order_by(Conversation.created_at.desc()).limit(1))
