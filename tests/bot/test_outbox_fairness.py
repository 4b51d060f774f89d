"""The outbox sender under pressure, on a real database: one slow or flooded chat does not hold
back another, a disabled channel's rows are parked and come back, two senders on one database
(two replicas) send each row exactly once, and a malformed row does not stop the sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select, update

from bot.messages import OutboundMessage
from bot.notify import Notifier
from bot.outbox import OutboxSender
from bot.storage import Conversation, Customer, Database, Identity, OutboxItem
from tests.support.outbox import RecordingChannel, queue
from tests.support.waiting import eventually


async def conversation_on(db: Database, channel: str, address: str) -> Conversation:
    async with db.transaction() as session:
        customer = Customer()
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel=channel, channel_user_id=address,
                            address=address)
        session.add(identity)
        await session.flush()
        conversation = Conversation(id=f"c-{address}", customer_id=customer.id,
                                    identity_id=identity.id, channel=channel, state="bot",
                                    misunderstandings=0, context={})
        session.add(conversation)
    return conversation


async def flood(db: Database, conversation: Conversation, count: int, prefix: str) -> None:
    """``count`` more pending rows for one address, in one statement (fast even for 1,000s)."""
    await queue(db, conversation, f"{prefix}0")
    async with db.transaction() as session:
        first = await session.scalar(
            select(OutboxItem).where(OutboxItem.conversation_id == conversation.id)
        )
        assert first is not None
        await session.execute(insert(OutboxItem), [
            {"message_id": first.message_id, "conversation_id": conversation.id,
             "channel": first.channel, "address": first.address,
             "body": OutboundMessage(text=f"{prefix}{i}").to_dict()}
            for i in range(1, count)
        ])


async def statuses(db: Database) -> Counter[str]:
    async with db.sessions() as session:
        return Counter((await session.scalars(select(OutboxItem.status))).all())


@contextlib.asynccontextmanager
async def running(*senders: OutboxSender) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sender.run(stop)) for sender in senders]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


class SlowChatChannel(RecordingChannel):
    """Telegram-like: one message a second per chat, and sends to the flooded chat "a" are held
    by the platform (flood control answered inside the send, as a retry middleware does)."""

    per_address_interval = 1.0

    def __init__(self, slow_seconds: float) -> None:
        super().__init__()
        self.slow_seconds = slow_seconds
        self.a_started = asyncio.Event()
        self.release = asyncio.Event()  # lets the held send finish early, at the end of a test
        self.sent_at: dict[str, float] = {}

    async def send(self, address: str, message: OutboundMessage) -> None:
        if address == "a":
            self.a_started.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.slow_seconds)
        await super().send(address, message)
        self.sent_at[message.text] = time.monotonic()


async def test_a_slow_flooded_chat_does_not_hold_back_another(db: Database) -> None:
    channel = SlowChatChannel(slow_seconds=6.0)
    notifier = Notifier()
    sender = OutboxSender(db, {"test": channel}, notifier, poll_seconds=5.0)
    a, b = await conversation_on(db, "test", "a"), await conversation_on(db, "test", "b")
    await queue(db, a, *(f"a{i}" for i in range(50)))
    async with running(sender):
        await asyncio.wait_for(channel.a_started.wait(), 30)
        await queue(db, b, "b1")
        queued_at = time.monotonic()
        notifier.outbox.publish()
        await eventually(lambda: ("b", "b1") in channel.sent, timeout=30)
        channel.release.set()
    # the old sender waited for a's 6-second send before it looked again
    assert channel.sent_at["b1"] - queued_at < 3.0


async def test_a_row_waiting_for_its_rate_limit_is_released_at_stop(db: Database) -> None:
    channel = RecordingChannel()
    channel.per_address_interval = 60.0  # a2 would wait a minute behind a1
    sender = OutboxSender(db, {"test": channel}, Notifier(), poll_seconds=0.05)
    a = await conversation_on(db, "test", "a")
    await queue(db, a, "a1", "a2")
    async with running(sender):
        await eventually(lambda: _second_claimed(db), timeout=30)
    assert channel.sent == [("a", "a1")]
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [(r.status, r.locked_until) for r in rows] == [("sent", None), ("pending", None)], (
        "a claim whose send had not begun is given back at once, not after its lock expires"
    )


async def _second_claimed(db: Database) -> bool:
    """a1 recorded as sent, a2 claimed and waiting for a1's interval to pass."""
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    return rows[0].status == "sent" and rows[1].locked_until is not None


async def test_more_than_a_thousand_rows_of_one_chat_do_not_hide_another(db: Database) -> None:
    channel = RecordingChannel()
    sender = OutboxSender(db, {"test": channel}, Notifier())
    a, b = await conversation_on(db, "test", "a"), await conversation_on(db, "test", "b")
    await flood(db, a, 1100, "a")
    await queue(db, b, "b1")
    assert await sender.deliver_due() == 2  # one head per address
    await sender.idle()
    assert sorted(channel.sent) == [("a", "a0"), ("b", "b1")]


async def test_a_disabled_channels_rows_are_parked_and_come_back(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    channel = RecordingChannel()
    off = await conversation_on(db, "off", "x")
    await flood(db, off, 1100, "x")
    b = await conversation_on(db, "test", "b")
    await queue(db, b, "b1")

    caplog.set_level(logging.WARNING, logger="bot.outbox")
    sender = OutboxSender(db, {"test": channel}, Notifier())
    for _ in range(3):
        await sender.deliver_due()
        await sender.idle()
    assert channel.sent == [("b", "b1")]
    assert await statuses(db) == Counter({"parked": 1100, "sent": 1})
    parked_logs = [r for r in caplog.records if "'off'" in r.getMessage()]
    assert len(parked_logs) == 1, "logged once per channel"

    # the app starts again with the channel enabled: the parked rows leave, oldest first
    later = RecordingChannel()
    later.name = "off"
    restarted = OutboxSender(db, {"test": channel, "off": later}, Notifier(), poll_seconds=0.05)
    async with running(restarted):
        await eventually(lambda: len(later.sent) >= 5, timeout=30)
    assert later.sent[:5] == [("x", f"x{i}") for i in range(5)]
    assert (await statuses(db))["parked"] == 0


class CountingChannel(RecordingChannel):
    """Counts every send; a short await inside widens the window for a double claim."""

    async def send(self, address: str, message: OutboundMessage) -> None:
        await asyncio.sleep(0.005)
        await super().send(address, message)


async def test_two_senders_on_one_database_send_each_row_once(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    await first.upgrade()
    try:
        addresses = [f"u{i}" for i in range(12)]
        for address in addresses:
            conversation = await conversation_on(first, "test", address)
            await queue(first, conversation, *(f"{address}-{n}" for n in range(8)))
        channel = CountingChannel()
        senders = [OutboxSender(database, {"test": channel}, Notifier(), poll_seconds=0.02)
                   for database in (first, second)]
        async with running(*senders):
            await eventually(lambda: _all_sent(first), timeout=60)
        counts = Counter(text for _address, text in channel.sent)
        assert len(counts) == 12 * 8
        assert [t for t, n in counts.items() if n > 1] == [], "no row is sent twice"
        for address in addresses:
            assert [t for a, t in channel.sent if a == address] == [
                f"{address}-{n}" for n in range(8)
            ], "order per address holds across senders"
    finally:
        await first.close()
        await second.close()


async def _all_sent(db: Database) -> bool:
    return set(await statuses(db)) == {"sent"}


async def test_a_malformed_row_fails_alone_and_the_next_one_is_sent(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    channel = RecordingChannel()
    sender = OutboxSender(db, {"test": channel}, Notifier())
    a = await conversation_on(db, "test", "a")
    await queue(db, a, "broken", "a2")
    async with db.transaction() as session:  # a button without a payload, as a bad write left it
        bad = {"text": "my number is +375291234567", "buttons": [{"title": "x"}]}
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == select(OutboxItem.id).order_by(
                OutboxItem.id).limit(1).scalar_subquery()).values(body=bad)
        )
    caplog.set_level(logging.INFO, logger="bot.outbox")
    for _ in range(3):
        await sender.deliver_due()
        await sender.idle()
    assert channel.sent == [("a", "a2")]
    async with db.sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("sent", 1)]
    assert "malformed body" in (rows[0].last_error or "")
    logged = [r.getMessage() for r in caplog.records]
    assert sum("malformed" in m for m in logged) == 1, "logged once"
    assert not any("375291234567" in m for m in logged), "no message text in the log"
