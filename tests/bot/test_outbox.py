"""The outbox sender on a real database with a recording channel: order per address,
retry_after honoured, permanent errors not retried, a blocked recipient recorded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.channel import PermanentChannelError, RecipientGoneError, TemporaryChannelError
from bot.notify import Notifier
from bot.outbox import OutboxSender
from bot.storage import Database, Identity, OutboxItem
from tests.support.outbox import Clock, RecordingChannel, conversation_for, drain, queue


async def test_replies_to_one_address_leave_in_order(db: Database) -> None:
    channel = RecordingChannel()
    sender = OutboxSender(db, {"test": channel}, Notifier())
    a, b = await conversation_for(db, "a"), await conversation_for(db, "b")
    await queue(db, a, "a1", "a2", "a3")
    await queue(db, b, "b1", "b2")
    await drain(sender)
    assert [t for addr, t in channel.sent if addr == "a"] == ["a1", "a2", "a3"]
    assert [t for addr, t in channel.sent if addr == "b"] == ["b1", "b2"]


async def test_retry_after_holds_back_the_rest_of_that_chat(db: Database) -> None:
    channel, clock = RecordingChannel(), Clock()
    channel.failures["a1"] = [TemporaryChannelError("429", retry_after=30)]
    sender = OutboxSender(db, {"test": channel}, Notifier(), clock=clock)
    a, b = await conversation_for(db, "a"), await conversation_for(db, "b")
    await queue(db, a, "a1", "a2")
    await queue(db, b, "b1")
    await drain(sender)
    assert channel.sent == [("b", "b1")], "other chats are not held up"
    clock.now += timedelta(seconds=29)
    await drain(sender)
    assert channel.sent == [("b", "b1")], "not before retry_after"
    clock.now += timedelta(seconds=2)
    await drain(sender)
    assert channel.sent == [("b", "b1"), ("a", "a1"), ("a", "a2")]


async def test_permanent_error_is_not_retried(db: Database) -> None:
    channel, clock = RecordingChannel(), Clock()
    channel.failures["bad"] = [PermanentChannelError("400 message is too long")]
    sender = OutboxSender(db, {"test": channel}, Notifier(), clock=clock)
    a = await conversation_for(db, "a")
    await queue(db, a, "bad", "good")
    await drain(sender)
    clock.now += timedelta(hours=1)
    await drain(sender)
    assert channel.sent == [("a", "good")]
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("sent", 1)]
    assert "too long" in (rows[0].last_error or "")


async def test_blocked_recipient_is_recorded_on_the_identity(db: Database) -> None:
    channel = RecordingChannel()
    channel.failures["hi"] = [RecipientGoneError("403 bot was blocked by the user")]
    sender = OutboxSender(db, {"test": channel}, Notifier())
    a = await conversation_for(db, "a")
    await queue(db, a, "hi")
    await drain(sender)
    async with db.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.address == "a"))
        row = await session.scalar(select(OutboxItem))
    assert identity is not None and identity.blocked_at is not None
    assert row is not None and row.status == "failed"


async def test_temporary_errors_give_up_after_max_attempts(db: Database) -> None:
    channel, clock = RecordingChannel(), Clock()
    channel.failures["x"] = [TemporaryChannelError("500")] * 10
    sender = OutboxSender(db, {"test": channel}, Notifier(), max_attempts=3, clock=clock)
    a = await conversation_for(db, "a")
    await queue(db, a, "x")
    for _ in range(5):
        await drain(sender)
        clock.now += timedelta(minutes=10)
    async with db.sessions() as session:
        row = await session.scalar(select(OutboxItem))
    assert row is not None and (row.status, row.attempts) == ("failed", 3)
    assert channel.sent == []


async def test_rows_for_a_disabled_channel_are_parked(db: Database) -> None:
    sender = OutboxSender(db, {}, Notifier())
    a = await conversation_for(db, "a")
    await queue(db, a, "later")
    assert await sender.deliver_due() == 0
    async with db.sessions() as session:
        row = await session.scalar(select(OutboxItem))
    assert row is not None and row.status == "parked"
