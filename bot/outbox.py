"""The outbox: replies are written in the same transaction as the state change that produced
them, and :class:`OutboxSender` delivers them through their channel.

Guarantees: a reply is never lost (a crash leaves the row pending and it is sent after a
restart); replies to one address leave in order (only the oldest pending row of an address is
in flight, and a row waiting for a retry holds back the ones behind it); rate limits and
back-off live here once for all channels.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import failpoints
from bot.messages import OutboundMessage, utcnow
from bot.notify import Notifier
from bot.storage import Conversation, Database, Identity, Message, OutboxItem
from channels.base import (
    Channel,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from channels.ratelimit import RateLimiter

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
_LOCK_FOR = timedelta(seconds=120)


async def enqueue_reply(
    session: AsyncSession,
    *,
    conversation: Conversation,
    address: str,
    message: OutboundMessage,
    reply_to_id: int | None = None,
) -> Message:
    """Store an outbound message and its outbox row (the caller owns the transaction)."""
    stored = Message(
        conversation_id=conversation.id,
        direction="out",
        sender=message.sender,
        channel=conversation.channel,
        text=message.text,
        buttons={"items": [b.to_dict() for b in message.buttons],
                 "request_phone": message.request_phone},
        meta=dict(message.metadata) or None,
        lang=conversation.lang,
        reply_to_id=reply_to_id,
        processed_at=utcnow(),
    )
    session.add(stored)
    await session.flush()
    session.add(
        OutboxItem(
            message_id=stored.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            address=address,
            body=message.to_dict(),
        )
    )
    return stored


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential back-off with full jitter: 1 s, 2 s, 4 s ... capped at five minutes."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(attempt - 1, 0)))


class OutboxSender:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        notifier: Notifier,
        *,
        poll_seconds: float = 1.0,
        max_attempts: int = 8,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._channels = channels
        self._notifier = notifier
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._clock = clock
        self._limiters = {
            name: RateLimiter(ch.per_address_interval, ch.global_rate)
            for name, ch in channels.items()
        }
        self._warned_channels: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            token = self._notifier.outbox.token()
            try:
                delivered = await self.deliver_due()
            except Exception:  # the loop must survive a database hiccup
                log.exception("outbox pass failed; retrying in %.1f s", self._poll)
                delivered = 0
            if delivered == 0:
                await self._notifier.outbox.wait(token, self._poll)

    async def deliver_due(self) -> int:
        """Send the head row of every address that is due; returns how many were attempted."""
        rows = await self._claim()
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _claim(self) -> list[OutboxItem]:
        now = self._clock()
        async with self._db.transaction() as session:
            query = select(OutboxItem).where(OutboxItem.status == PENDING).order_by(OutboxItem.id)
            pending = (await session.scalars(query.limit(1000))).all()
            heads: dict[tuple[str, str], OutboxItem] = {}
            for row in pending:
                heads.setdefault((row.channel, row.address), row)
            due = [
                row for row in heads.values()
                if _aware(row.next_attempt_at) <= now
                and (row.locked_until is None or _aware(row.locked_until) <= now)
                and self._has_channel(row.channel)
            ]
            if not due:
                return []
            claimed = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_([r.id for r in due]), OutboxItem.status == PENDING)
                .values(locked_until=now + _LOCK_FOR)
            )
            if claimed.rowcount != len(due):  # another replica got some: take them next pass
                return []
        return due

    def _has_channel(self, name: str) -> bool:
        if name in self._channels:
            return True
        if name not in self._warned_channels:
            self._warned_channels.add(name)
            log.warning("outbox has replies for channel %r, which is not enabled; they wait", name)
        return False

    async def _deliver(self, row: OutboxItem) -> None:
        channel = self._channels[row.channel]
        message = OutboundMessage.from_dict(row.body)
        error: str | None = None
        retry_at: datetime | None = None
        gone = False
        try:
            await self._limiters[row.channel].acquire(row.address)
            await channel.send(row.address, message)
            failpoints.hit(failpoints.BEFORE_SENT)
        except TemporaryChannelError as exc:
            delay = max(exc.retry_after or 0.0, backoff_seconds(row.attempts + 1))
            error, retry_at = f"temporary: {exc}", self._clock() + timedelta(seconds=delay)
        except RecipientGoneError as exc:
            error, gone = f"recipient gone: {exc}", True
        except PermanentChannelError as exc:
            error = f"permanent: {exc}"
        except Exception as exc:  # an adapter bug must not stop the sender: retry with back-off
            log.exception("channel %s failed to send outbox row %s", row.channel, row.id)
            delay = backoff_seconds(row.attempts + 1)
            error = f"unexpected: {type(exc).__name__}: {exc}"
            retry_at = self._clock() + timedelta(seconds=delay)
        await self._record(row, error=error, retry_at=retry_at, gone=gone)

    async def _record(
        self, row: OutboxItem, *, error: str | None, retry_at: datetime | None, gone: bool
    ) -> None:
        now = self._clock()
        values: dict[str, object] = {"attempts": row.attempts + 1, "locked_until": None}
        if error is None:
            values |= {"status": SENT, "sent_at": now, "last_error": None}
        elif retry_at is not None and row.attempts + 1 < self._max_attempts:
            values |= {"next_attempt_at": retry_at, "last_error": error[:2000]}
            log.warning("outbox row %s: %s; retry at %s", row.id, error, retry_at.isoformat())
        else:
            values |= {"status": FAILED, "last_error": error[:2000]}
            log.error("outbox row %s failed for good: %s", row.id, error)
        async with self._db.transaction() as session:
            await session.execute(update(OutboxItem).where(OutboxItem.id == row.id).values(values))
            if gone:
                identity_id = select(Conversation.identity_id).where(
                    Conversation.id == row.conversation_id
                ).scalar_subquery()
                await session.execute(
                    update(Identity).where(Identity.id == identity_id).values(blocked_at=now)
                )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
