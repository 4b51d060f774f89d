"""The shared send-rate limiter: the interval of one address delays only that address."""

from __future__ import annotations

import asyncio
import time

from bot.send_rate import SendRateLimiter


async def test_a_waiting_address_does_not_push_the_global_schedule() -> None:
    limiter = SendRateLimiter(per_address_interval=1.0, global_rate=20.0)
    await limiter.acquire("a")  # a's next slot is a second away
    started = time.monotonic()
    second_a = asyncio.create_task(limiter.acquire("a"))
    await asyncio.sleep(0)  # a's second message is waiting for its turn
    await limiter.acquire("b")
    b_waited = time.monotonic() - started
    await second_a
    a_waited = time.monotonic() - started
    assert b_waited < 0.5, "b takes the next global slot, not one after a's future turn"
    assert a_waited >= 0.9, "a still waits its interval"


async def test_the_global_rate_spaces_different_addresses() -> None:
    limiter = SendRateLimiter(global_rate=10.0)
    started = time.monotonic()
    for address in ("a", "b", "c", "d"):
        await limiter.acquire(address)
    assert time.monotonic() - started >= 0.25  # three gaps of 0.1 s
