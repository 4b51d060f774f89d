"""The outbox: replies are written in the same transaction as the state change that produced
them, and :class:`OutboxSender` delivers them through their channel.

Statuses of a row::

    pending   waiting to be sent (``next_attempt_at`` says when; ``locked_until`` is set while a
              sender has claimed it)
    sent      delivered
    failed    given up: a permanent error, a malformed body, or ``max_attempts`` temporary errors
    parked    its channel is not enabled here; it goes back to ``pending`` (order kept) when the
              app starts with that channel enabled

Guarantees:

- a reply is never lost: a crash leaves the row pending (its claim expires after
  ``_LOCK_FOR``) and it is sent after a restart — at least once, so a crash between the send
  and the record can repeat one message;
- replies to one address leave in order: only the head (oldest pending row) of a
  (channel, address) is ever claimed, so one row of an address is in flight at a time, and a
  head waiting for a retry holds back the rows behind it;
- one address never holds back another: heads are picked per address in SQL (a flood of one
  address is one candidate, however many rows it has), each claimed row is delivered in its
  own task (at most ``concurrency`` at once), and the sender claims again as soon as any
  delivery ends; a per-address rate limit delays only that address;
- two senders on one database (replicas) never send the same row while its claim holds
  (``_LOCK_FOR``, far longer than a send): a claim is one conditional UPDATE that re-checks
  ``pending`` and the lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL);
- a bad row cannot stop the sender: decoding and sending happen per row, errors are recorded
  on the row;
- rate limits and back-off live here once for all channels.

Every replica must enable the same channels: a replica without a channel parks its rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import failpoints
from bot.channel import (
    Channel,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from bot.messages import DELIVERY_ID, OutboundMessage, utcnow
from bot.notify import Notifier, Signal, wait_any
from bot.ratelimit import LimitStore, store_for_database
from bot.send_rate import SendRateLimiter
from bot.storage import Conversation, Database, Identity, Message, OutboxItem, affected_rows

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, PARKED = "pending", "sent", "failed", "parked"
# A claim outlives any send (channel timeouts are seconds) plus the per-address wait; when a
# sender dies, its rows are claimable again after this.
_LOCK_FOR = timedelta(seconds=120)
DEFAULT_CONCURRENCY = 32
_STOP_GRACE_SECONDS = 5.0


async def enqueue_reply(
    session: AsyncSession,
    *,
    conversation: Conversation,
    address: str,
    message: OutboundMessage,
    reply_to_id: int | None = None,
    delivered: bool = False,
) -> int:
    """Store an outbound message and its outbox row (the caller owns the transaction); returns
    the message's id.

    ``delivered``: the channel delivers by storing (the web chat's page reads the messages),
    so the row is written as sent and no sender ever claims it. Two Core INSERTs: this runs
    for every reply, and the ORM's unit of work costs more than it gives here."""
    now = utcnow()
    message_id: int = (await session.execute(
        insert(Message).values(
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
            processed_at=now,
            attempts=0,
            created_at=now,
        ).returning(Message.id)
    )).scalar_one()
    await session.execute(
        insert(OutboxItem).values(
            message_id=message_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            address=address,
            body=message.to_dict(),
            status=SENT if delivered else PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            sent_at=now if delivered else None,
        )
    )
    return message_id


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential back-off with full jitter: 1 s, 2 s, 4 s ... capped at five minutes."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(attempt - 1, 0)))


class OutboxSender:
    """Claims the due head row of every address and delivers each in its own task.

    :meth:`run` is the background loop. :meth:`deliver_due` makes one claim and starts the
    deliveries; :meth:`idle` waits until every started delivery has ended.
    """

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        notifier: Notifier,
        *,
        poll_seconds: float = 1.0,
        max_attempts: int = 8,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], datetime] = utcnow,
        limits: LimitStore | None = None,
    ) -> None:
        self._db = db
        self._channels = channels
        self._notifier = notifier
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._concurrency = max(concurrency, 1)
        self._clock = clock
        # the send rates hold across replicas: the store is shared (by default the database's)
        store = limits if limits is not None else store_for_database(db)
        self._limiters = {
            name: SendRateLimiter(ch.per_address_interval, ch.global_rate, store=store, name=name)
            for name, ch in channels.items()
        }
        self._inflight: dict[int, asyncio.Task[None]] = {}  # row id -> its delivery
        self._sending: set[int] = set()  # rows whose channel.send has begun
        self._finished = Signal()  # a delivery ended: its address's next row may be due
        self._resumed = False
        self._parked_logged: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                wake, finished = self._notifier.outbox.token(), self._finished.token()
                try:
                    claimed = await self.deliver_due()
                except Exception:  # the loop must survive a database hiccup
                    log.exception("outbox pass failed; retrying in %.1f s", self._poll)
                    claimed = 0
                if claimed == 0 or len(self._inflight) >= self._concurrency:
                    await wait_any((wake, finished, stop), self._poll)
        finally:
            await self._stop_deliveries()

    async def deliver_due(self) -> int:
        """Claim the due head row of every address not in flight (up to the free concurrency)
        and start delivering them; returns how many were claimed."""
        if not self._resumed:
            await self.resume_parked()
            self._resumed = True
        await self._park_disabled()
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return 0
        rows = await self._claim(free)
        for row in rows:
            self._start(row)
        return len(rows)

    async def idle(self) -> None:
        """Wait until no delivery is in flight (tests; a clean stop)."""
        while self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def resume_parked(self) -> int:
        """Parked rows of the channels enabled here go back to pending, ids (order) unchanged."""
        if not self._channels:
            return 0
        async with self._db.transaction() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == PARKED, OutboxItem.channel.in_(list(self._channels)))
                .values(status=PENDING, locked_until=None)
            )
        count = affected_rows(result)
        if count:
            log.info("outbox: %d parked repl(ies) of enabled channels are pending again", count)
        return count

    # -- claiming ----------------------------------------------------------------------------

    async def _park_disabled(self) -> None:
        """Rows of a channel that is not enabled would fill the working set; park them."""
        pending_elsewhere = (OutboxItem.status == PENDING, self._disabled())
        async with self._db.transaction() as session:
            found = set(
                (await session.scalars(
                    select(OutboxItem.channel).where(*pending_elsewhere).distinct()
                )).all()
            )
            if not found:
                return
            await session.execute(
                update(OutboxItem).where(*pending_elsewhere).values(status=PARKED)
            )
        for name in sorted(found - self._parked_logged):
            self._parked_logged.add(name)
            log.warning("outbox has replies for channel %r, which is not enabled; they are "
                        "parked until the app starts with it enabled", name)

    def _disabled(self) -> ColumnElement[bool]:
        return OutboxItem.channel.not_in(list(self._channels))

    async def _claim(self, limit: int) -> list[OutboxItem]:
        now = self._clock()
        pending = OutboxItem.status == PENDING
        unlocked = or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until <= now)
        # the head of each address is its oldest pending row, locked or not: a locked head
        # means the address is in flight, and its next row must wait
        heads = (
            select(func.min(OutboxItem.id))
            .where(pending, OutboxItem.channel.in_(list(self._channels)))
            .group_by(OutboxItem.channel, OutboxItem.address)
        )
        candidates = (
            select(OutboxItem.id)
            .where(
                OutboxItem.id.in_(heads),
                pending,
                unlocked,
                OutboxItem.next_attempt_at <= now,
                OutboxItem.id.not_in(list(self._inflight)),  # a claim that outlived its lock
            )
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if not self._db.is_sqlite:  # SQLite has one writer: the UPDATE below is atomic there
            candidates = candidates.with_for_update(skip_locked=True)
        # the UPDATE re-checks pending and the lock, and RETURNING says which rows we got
        claim = (
            update(OutboxItem)
            .where(OutboxItem.id.in_(candidates.scalar_subquery()), pending, unlocked)
            .values(locked_until=now + _LOCK_FOR)
            .returning(OutboxItem)
            .execution_options(synchronize_session=False)
        )
        async with self._db.transaction() as session:
            rows = list((await session.scalars(claim)).all())
        return sorted(rows, key=lambda row: row.id)

    # -- delivering --------------------------------------------------------------------------

    def _start(self, row: OutboxItem) -> None:
        task = asyncio.create_task(self._deliver_safely(row), name=f"outbox-row-{row.id}")
        self._inflight[row.id] = task
        task.add_done_callback(functools.partial(self._ended, row.id))

    def _ended(self, row_id: int, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(row_id, None)
        self._sending.discard(row_id)
        self._finished.publish()

    async def _deliver_safely(self, row: OutboxItem) -> None:
        try:
            await self._deliver(row)
        except Exception:  # recording failed (database down): the claim expires, it is retried
            log.exception("outbox row %s: could not record the delivery", row.id)

    async def _deliver(self, row: OutboxItem) -> None:
        error: str | None = None
        retry_at: datetime | None = None
        gone = False
        try:
            message = _decode(row)
            message = dataclasses.replace(
                message, metadata={**message.metadata, DELIVERY_ID: row.id}
            )
            channel = self._channels[row.channel]
            await self._limiters[row.channel].acquire(row.address)
            self._sending.add(row.id)
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

    async def _stop_deliveries(self) -> None:
        """Stop cleanly: a delivery still waiting for its rate limit is cancelled and its row
        given back at once; one whose send has begun gets a short grace to finish and record
        (cancelled then, its row is sent again after the claim expires: at least once)."""
        waiting = {i: t for i, t in self._inflight.items() if i not in self._sending}
        sending = [t for i, t in self._inflight.items() if i in self._sending]
        for task in waiting.values():
            task.cancel()
        if sending:
            await asyncio.wait(sending, timeout=_STOP_GRACE_SECONDS)
        for task in sending:
            task.cancel()
        await asyncio.gather(*waiting.values(), *sending, return_exceptions=True)
        if not waiting:
            return
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(list(waiting)), OutboxItem.status == PENDING)
                    .values(locked_until=None)
                )
        except Exception:  # stopping anyway: the claims expire on their own
            log.warning("outbox: could not release %d unsent row(s) at stop", len(waiting),
                        exc_info=True)


def _decode(row: OutboxItem) -> OutboundMessage:
    """The stored body as a message; a body that cannot be read is a permanent error (its
    type only is reported: the body holds the subscriber's conversation)."""
    try:
        return OutboundMessage.from_dict(row.body)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PermanentChannelError(f"malformed body ({type(exc).__name__})") from None
