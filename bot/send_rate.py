"""Send-rate limits shared by every channel: an interval per address and a global rate.

The schedule lives in a limit store (bot/ratelimit): this process's memory on SQLite; the
database or Redis with replicas, so two replicas together keep Telegram's 30 a second, not 30
each. A slot is *reserved* (a bucket may go below zero) rather than polled for, so a send costs
one store round trip per limit, never a retry loop. When the shared store fails, sends go on
under this process's own schedule (a warning says so): a limiter's hiccup must not stop the
outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.ratelimit import Bucket, FallbackStore, LimitStore, MemoryStore, digest


class SendRateLimiter:
    """``acquire(address)`` returns when one more message may go to ``address``.

    ``per_address_interval`` seconds between two messages to one address (Telegram: ~1 s per
    chat); ``global_rate`` messages per second overall (Telegram: ~30/s). Zero means unlimited.
    ``name`` keeps channels apart in a shared store.

    An address first waits for its own turn, and only then takes a global slot: a chat that
    must wait a second for its next message does not push the global schedule a second into
    the future for every other chat.
    """

    def __init__(
        self,
        per_address_interval: float = 0.0,
        global_rate: float = 0.0,
        *,
        store: LimitStore | None = None,
        name: str = "send",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = max(per_address_interval, 0.0)
        self._name = name
        self._global = Bucket(f"send:{name}:all", 1, global_rate) if global_rate > 0 else None
        self._store: LimitStore = (
            MemoryStore() if store is None else FallbackStore(store, what=f"{name} send rate")
        )
        self._sleep = sleep

    async def acquire(self, address: str) -> None:
        own = self._address_bucket(address)
        if own is not None:
            wait = await self._store.take([own], debt=True)
            if wait > 0:
                await self._sleep(wait)
        if self._global is not None:
            wait = await self._store.take([self._global], debt=True)
            if wait > 0:
                await self._sleep(wait)
                if own is not None:
                    # keep the per-address spacing measured from when the message really
                    # leaves: push the address's next turn back by the global wait
                    await self._store.take([own], cost=wait * own.per_second, debt=True)

    def _address_bucket(self, address: str) -> Bucket | None:
        if not self._interval:
            return None
        # capacity 1: strict spacing, one message per interval, no burst
        return Bucket(f"send:{self._name}:to:{digest(address)}", 1, 1.0 / self._interval)
