"""Failed logins are throttled per (username, address) and per address, never per username
alone; an attempt counts before its password is checked; password checks run a few at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.ratelimit import MemoryStore
from handoff.errors import Busy, RateLimited
from handoff.login_throttle import LoginThrottle, PasswordGate, address_key
from tests.support.waiting import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def fail(limiter: LoginThrottle, username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        await (await limiter.reserve(username, address)).failed()


def throttle(clock: Clock, max_failures: int, **options: int) -> LoginThrottle:
    return LoginThrottle(store=MemoryStore(clock=clock), max_failures=max_failures,
                         window_seconds=60, **options)


async def test_a_user_is_blocked_from_one_address_only_then_released() -> None:
    clock = Clock()
    limiter = throttle(clock, 3)
    await fail(limiter, "admin", "10.0.0.1", 3)
    with pytest.raises(RateLimited) as blocked:
        await limiter.reserve("Admin", "10.0.0.1")  # any case
    assert 0 < blocked.value.retry_after <= 60
    await (await limiter.reserve("admin", "10.0.0.2")).succeeded()  # the real admin elsewhere
    await (await limiter.reserve("boris", "10.0.0.1")).failed()  # other users still try
    clock.now += 61
    await (await limiter.reserve("admin", "10.0.0.1")).succeeded()


async def test_after_the_burst_one_more_try_per_window_share() -> None:
    clock = Clock()
    limiter = throttle(clock, 3)  # 3 failures a minute: one more every 20 s after the burst
    await fail(limiter, "admin", "10.0.0.1", 3)
    with pytest.raises(RateLimited) as blocked:
        await limiter.reserve("admin", "10.0.0.1")
    assert blocked.value.retry_after == pytest.approx(20.0)
    clock.now += 20
    await fail(limiter, "admin", "10.0.0.1")
    with pytest.raises(RateLimited):
        await limiter.reserve("admin", "10.0.0.1")


async def test_one_address_trying_many_usernames_is_blocked() -> None:
    limiter = throttle(Clock(), 2, per_address_factor=2)
    for name in ("a1", "a2", "a3", "a4"):
        await fail(limiter, name, "10.0.0.9")
    with pytest.raises(RateLimited):
        await limiter.reserve("someone-new", "10.0.0.9")
    await (await limiter.reserve("someone-new", "10.0.0.10")).failed()


async def test_an_attempt_counts_before_its_password_is_checked() -> None:
    limiter = throttle(Clock(), 3)
    pending = [await limiter.reserve("admin", "10.0.0.1") for _ in range(3)]  # none settled
    with pytest.raises(RateLimited):
        await limiter.reserve("admin", "10.0.0.1")
    await pending[0].abandoned()  # never checked (server busy): does not count
    await (await limiter.reserve("admin", "10.0.0.1")).failed()


async def test_success_forgives_the_user_but_not_the_address() -> None:
    limiter = throttle(Clock(), 2, per_address_factor=2)
    await fail(limiter, "admin", "10.0.0.1")
    await fail(limiter, "eve", "10.0.0.1")
    await (await limiter.reserve("eve", "10.0.0.1")).succeeded()  # eve's own account
    await fail(limiter, "eve", "10.0.0.1")
    await fail(limiter, "admin", "10.0.0.1")
    with pytest.raises(RateLimited):  # 4 failures from the address: logging in as eve
        await limiter.reserve("eve", "10.0.0.1")  # did not wipe the count for admin's guesses


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("unknown") == "unknown"


async def test_the_gate_bounds_checks_and_refuses_beyond_its_queue() -> None:
    gate = PasswordGate(2, queue=3)
    release = threading.Event()
    lock = threading.Lock()
    running = peak = 0

    def check() -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(30)
        with lock:
            running -= 1
        return True

    tasks = [asyncio.create_task(gate.run(check)) for _ in range(10)]
    await eventually(lambda: running == 2 and sum(t.done() for t in tasks) >= 5)
    refused = [t for t in tasks if t.done()]
    assert len(refused) == 5 and all(isinstance(t.exception(), Busy) for t in refused)
    assert peak == 2
    release.set()
    done = await asyncio.gather(*[t for t in tasks if t not in refused])
    assert done == [True] * 5 and peak == 2


async def test_a_cancelled_caller_keeps_its_slot_until_the_thread_ends() -> None:
    gate = PasswordGate(1, queue=0)
    release, started = threading.Event(), threading.Event()

    def slow_check() -> bool:
        started.set()
        return release.wait(30)

    first = asyncio.create_task(gate.run(slow_check))
    await eventually(started.is_set)
    first.cancel()
    await eventually(first.done)
    with pytest.raises(Busy):  # the thread still runs: no second check starts
        await gate.run(lambda: True)
    release.set()
    for _ in range(200):  # the slot comes back once the thread is done
        await asyncio.sleep(0.05)
        try:
            assert await gate.run(lambda: True) is True
            return
        except Busy:
            continue
    raise AssertionError("the slot never came back")
