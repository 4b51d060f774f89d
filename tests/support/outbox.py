"""The outbox under test: a channel that records what it was asked to send (and fails on cue),
a clock to move time, and ways to queue rows and deliver them."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.messages import OutboundMessage, utcnow
from bot.outbox import OutboxSender, enqueue_reply
from bot.storage import Conversation, Customer, Database, Identity


class RecordingChannel:
    """Collects what was sent; fails according to a script keyed by text."""

    name = "test"
    per_address_interval = 0.0
    global_rate = 0.0

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: dict[str, list[Exception]] = {}

    async def send(self, address: str, message: OutboundMessage) -> None:
        queue = self.failures.get(message.text)
        if queue:
            raise queue.pop(0)
        self.sent.append((address, message.text))


class Clock:
    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)  # rows queued "now" are due

    def __call__(self) -> datetime:
        return self.now


async def conversation_for(db: Database, address: str) -> Conversation:
    async with db.transaction() as session:
        customer = Customer()
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel="test", channel_user_id=address,
                            address=address)
        session.add(identity)
        await session.flush()
        conversation = Conversation(id=f"c-{address}", customer_id=customer.id,
                                    identity_id=identity.id, channel="test", state="bot",
                                    misunderstandings=0, context={})
        session.add(conversation)
    return conversation


async def queue(db: Database, conversation: Conversation, *texts: str) -> None:
    async with db.transaction() as session:
        for text in texts:
            await enqueue_reply(session, conversation=conversation, address=conversation.id[2:],
                                message=OutboundMessage(text=text))


async def drain(sender: OutboxSender, passes: int = 20) -> None:
    """Claim and deliver until nothing more is due (deliveries run in tasks: wait for them)."""
    for _ in range(passes):
        claimed = await sender.deliver_due()
        await sender.idle()
        if claimed == 0:
            return
