"""Send-rate limits shared by every channel: an interval per address and a global rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class SendRateLimiter:
    """``acquire(address)`` returns when one more message may go to ``address``.

    ``per_address_interval`` seconds between two messages to one address (Telegram: ~1 s per
    chat); ``global_rate`` messages per second overall (Telegram: ~30/s). Zero means unlimited.

    An address first waits for its own turn, and only then takes a global slot: a chat that
    must wait a second for its next message does not push the global schedule a second into
    the future for every other chat.
    """

    def __init__(
        self,
        per_address_interval: float = 0.0,
        global_rate: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = max(per_address_interval, 0.0)
        self._global_interval = 1.0 / global_rate if global_rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_for_address: dict[str, float] = {}
        self._next_global = 0.0

    async def acquire(self, address: str) -> None:
        # No await between reading and writing the schedule, so no lock is needed: the event
        # loop cannot interleave two callers inside either block.
        now = self._clock()
        at = max(now, self._next_for_address.get(address, 0.0))
        self._next_for_address[address] = at + self._interval
        if len(self._next_for_address) > 100_000:
            self._forget_past(now)
        if at > now:
            await self._sleep(at - now)
        if self._global_interval:
            now = self._clock()
            slot = max(now, self._next_global)
            self._next_global = slot + self._global_interval
            if slot > now:
                await self._sleep(slot - now)
                # keep the per-address spacing measured from when the message really leaves
                self._next_for_address[address] = max(
                    self._next_for_address.get(address, 0.0), slot + self._interval
                )

    def _forget_past(self, now: float) -> None:
        for address in [a for a, t in self._next_for_address.items() if t <= now]:
            del self._next_for_address[address]
