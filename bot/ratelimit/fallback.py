"""A shared store with this process's own buckets behind it, for limits that must not block.

When the shared store fails, the limit falls back to per-process buckets (what one replica
alone enforced before #13) for a few seconds, then tries the shared store again. So a store
outage neither loses a subscriber's message nor lifts the limit completely, costs no
connection timeout per message, and logs one warning per outage window, not one per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.ratelimit.memory import MemoryStore
from bot.ratelimit.store import Bucket, LimitStore, LimitStoreError

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class FallbackStore:
    def __init__(
        self,
        shared: LimitStore,
        *,
        what: str,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = MemoryStore(clock=clock)
        self._what = what  # "web chat limits": says in the log whose limit degraded
        self._retry = retry_seconds
        self._clock = clock
        self._down_until = float("-inf")

    async def take(
        self, buckets: Sequence[Bucket], *, cost: float = 1.0, debt: bool = False
    ) -> float:
        if self._clock() >= self._down_until:
            try:
                return await self._shared.take(buckets, cost=cost, debt=debt)
            except LimitStoreError as exc:
                self._failed(exc)
        return await self._local.take(buckets, cost=cost, debt=debt)

    async def forget(self, keys: Sequence[str]) -> None:
        await self._local.forget(keys)
        try:
            await self._shared.forget(keys)
        except LimitStoreError as exc:
            self._failed(exc)

    async def close(self) -> None:
        await self._local.close()

    def _failed(self, exc: LimitStoreError) -> None:
        self._down_until = self._clock() + self._retry
        log.warning(
            "%s: the shared rate-limit store failed (%s); this process enforces its own limits "
            "alone for %.0f s, then tries it again", self._what, exc, self._retry,
        )
