"""Login abuse limits: failed-login throttling and a bound on password checks at once.

:class:`LoginThrottle` counts failures in a sliding window per (username, client address) and
per client address. There is deliberately no key for a username alone: with one, anybody
could lock the real ``admin`` out by failing five times from anywhere. An attempt is counted
*before* its password is checked (:meth:`LoginThrottle.reserve`) and taken back when it
succeeds, so sixty guesses sent at once cannot all pass the check while the first ones are
still being verified.

:class:`PasswordGate` bounds how many argon2 checks run at once (each costs ~64 MB) and how
many wait; beyond that a caller is refused at once (:class:`Busy`) instead of piling up.

In memory, per app process: enough for one machine; with several replicas each one counts
its own failures (a shared table would make the limit global).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from ipaddress import IPv6Address, ip_address, ip_network
from typing import TypeVar

from handoff.errors import Busy, RateLimited

T = TypeVar("T")

_FORGET_ABOVE = 10_000  # keys; expired ones are dropped once there are more


def address_key(address: str) -> str:
    """IPv6 clients count per /64: one subscriber line usually owns a whole /64, so single
    addresses would let one client look like millions."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class Attempt:
    """One login attempt, already counted as a failure until it is known to have succeeded."""

    def __init__(self, limiter: LoginThrottle, keys: list[str], stamp: float) -> None:
        self._limiter = limiter
        self._keys = keys
        self._stamp = stamp
        self._settled = False

    def failed(self) -> None:
        """The password was wrong: the failure stays counted."""
        self._settled = True

    def succeeded(self) -> None:
        """The password was right: this user's failures from this address are forgiven; the
        address keeps its others (a valid account must not reset an attacker's count)."""
        if not self._settled:
            self._settled = True
            self._limiter._forget(self._keys[0])
            self._limiter._take_back(self._keys[1], self._stamp)

    def abandoned(self) -> None:
        """No password was checked (e.g. the server was busy): the attempt does not count."""
        if not self._settled:
            self._settled = True
            for key in self._keys:
                self._limiter._take_back(key, self._stamp)


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        per_address_factor: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._address_max = max_failures * per_address_factor
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def reserve(self, username: str, address: str) -> Attempt:
        """Count an attempt now, or raise :class:`RateLimited` while either key is full.

        The caller settles the returned :class:`Attempt` once the password is checked.
        """
        now = self._clock()
        where = address_key(address)
        keys = [(f"pair:{username.strip().lower()}\x00{where}", self._max),
                (f"addr:{where}", self._address_max)]
        retry_after = max(self._blocked_for(key, limit, now) for key, limit in keys)
        if retry_after > 0:
            raise RateLimited(
                "too many failed logins; try again later", retry_after=round(retry_after, 1)
            )
        self._forget_old(now)
        for key, _limit in keys:
            self._failures.setdefault(key, deque()).append(now)
        return Attempt(self, [key for key, _limit in keys], now)

    def _blocked_for(self, key: str, limit: int, now: float) -> float:
        stamps = self._failures.get(key)
        if not stamps:
            return 0.0
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if len(stamps) < limit:
            return 0.0
        return stamps[-limit] + self._window - now

    def _forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _take_back(self, key: str, stamp: float) -> None:
        stamps = self._failures.get(key)
        if stamps is not None and stamp in stamps:
            stamps.remove(stamp)

    def _forget_old(self, now: float) -> None:
        if len(self._failures) < _FORGET_ABOVE:
            return
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self._window]:
            del self._failures[key]


class PasswordGate:
    """At most ``limit`` password checks run at once and at most ``queue`` wait for a slot.

    A slot is held until the worker thread really finishes, even when the waiting request is
    cancelled (a thread cannot be), so the bound is on memory, not on requests.
    """

    def __init__(self, limit: int, *, queue: int | None = None) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._queue = limit * 4 if queue is None else queue
        self._waiting = 0

    async def run(self, work: Callable[[], T], *, may_refuse: bool = True) -> T:
        """Run ``work`` in a thread when a slot is free; :class:`Busy` if the queue is full
        (``may_refuse=False`` waits regardless: start-up and the CLI, not the public)."""
        if may_refuse and self._slots.locked() and self._waiting >= self._queue:
            raise Busy("too many logins at once; try again in a moment", retry_after=1.0)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            future = asyncio.ensure_future(asyncio.to_thread(work))
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return await asyncio.shield(future)
