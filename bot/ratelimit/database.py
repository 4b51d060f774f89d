"""Buckets in a PostgreSQL table (``rate_limits``), shared by every replica on the database.

One transaction per :meth:`DatabaseStore.take`: an ``INSERT ... ON CONFLICT DO UPDATE``
refills the buckets and locks their rows (in key order, so two takes cannot deadlock), then an
``UPDATE`` takes the tokens when they suffice. A second replica taking from the same bucket
waits on the row lock and sees the first one's result: two processes never both pass on the
last token. Time is the database's clock, one clock for every replica.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, Double, cast, delete, extract, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from bot.ratelimit.store import Bucket, LimitStoreError, stored_keys, wait_for
from bot.storage import Database
from bot.storage.tables import RateLimitBucket

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0
PRUNE_BATCH = 1000
PRUNE_AFTER = 60.0  # seconds a row stays once its bucket is full again

def _now() -> ColumnElement[float]:
    # clock_timestamp, not now(): evaluated after the row lock is granted, not at BEGIN
    return cast(extract("epoch", func.clock_timestamp()), Double)


class DatabaseStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._pruned = clock()

    async def take(
        self, buckets: Sequence[Bucket], *, cost: float = 1.0, debt: bool = False
    ) -> float:
        if not buckets:
            return 0.0
        by_key = {b.stored_key: b for b in buckets}
        keys = sorted(by_key)
        row = RateLimitBucket
        upsert = insert(row).values([
            {"key": key, "tokens": by_key[key].capacity, "capacity": by_key[key].capacity,
             "per_second": by_key[key].per_second, "updated": _now(), "full_at": _now()}
            for key in keys
        ])
        refill = upsert.on_conflict_do_update(
            index_elements=[row.key],
            set_={
                "tokens": func.least(
                    upsert.excluded.capacity,
                    row.tokens + func.greatest(0.0, _now() - row.updated)
                    * upsert.excluded.per_second,
                ),
                "capacity": upsert.excluded.capacity,
                "per_second": upsert.excluded.per_second,
                "updated": func.greatest(row.updated, _now()),
            },
        ).returning(row.key, row.tokens)
        left = func.least(row.capacity, row.tokens - cost)
        spend = (
            update(row)
            .where(row.key.in_(keys))
            .values(tokens=left, full_at=row.updated + (row.capacity - left) / row.per_second)
        )
        try:
            async with self._db.engine.begin() as conn:
                levels = {r.key: float(r.tokens) for r in await conn.execute(refill)}
                wait = max(wait_for(levels[k], cost, by_key[k].per_second) for k in keys)
                if debt or wait == 0:
                    await conn.execute(spend)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise LimitStoreError(f"rate-limit table: {_describe(exc)}") from exc
        try:
            await self._maybe_prune()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:  # the take itself is done
            log.warning("pruning idle rate-limit rows failed (%s); trying again later",
                        _describe(exc))
        return wait

    async def forget(self, keys: Sequence[str]) -> None:
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(delete(RateLimitBucket).where(
                    RateLimitBucket.key.in_(stored_keys(keys))))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise LimitStoreError(f"rate-limit table: {_describe(exc)}") from exc

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the app's :class:`Database`."""

    async def _maybe_prune(self) -> None:
        if self._clock() - self._pruned < PRUNE_EVERY_SECONDS:
            return
        self._pruned = self._clock()
        row = RateLimitBucket
        # SKIP LOCKED: never wait on (or deadlock with) a bucket somebody is taking from now
        idle = (
            select(row.key).where(row.full_at < _now() - PRUNE_AFTER)
            .order_by(row.key).limit(PRUNE_BATCH).with_for_update(skip_locked=True)
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(row).where(row.key.in_(idle.scalar_subquery())))


def _describe(exc: BaseException) -> str:
    # the first line only: the statement that follows names no parameters (hide_parameters),
    # but it is noise in a warning
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
