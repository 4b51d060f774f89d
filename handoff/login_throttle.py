"""Login abuse limits: failed-login throttling and a bound on password checks at once.

:class:`LoginThrottle` limits failures per (username, client address) and per client address:
a token bucket per key that holds ``max_failures`` and refills ``max_failures`` per window (a
burst of failures, then one more every ``window / max_failures``). There is deliberately no
key for a username alone: with one, anybody could lock the real ``admin`` out by failing five
times from anywhere. An attempt is counted *before* its password is checked
(:meth:`LoginThrottle.reserve`) and given back when it succeeds, so sixty guesses sent at once
cannot all pass the check while the first ones are still being verified.

The buckets live in the store the composition root chose (bot/ratelimit): with replicas, the
database or Redis, so the limit is one for all of them. When that store fails, the login
fails *closed* (503 with Retry-After): a limit that silently vanished would let a guessing run
go at full speed on every replica, while a refused login costs an agent a short wait (open
sessions keep working; only logging in needs the store). On PostgreSQL the store is the
accounts' own database, so a login could not succeed then anyway.

:class:`PasswordGate` bounds how many argon2 checks run at once (each costs ~64 MB) and how
many wait; beyond that a caller is refused at once (:class:`Busy`) instead of piling up. That
bound stays per process: it guards this process's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from ipaddress import IPv6Address, ip_address, ip_network
from typing import TypeVar

from bot.ratelimit import Bucket, LimitStore, LimitStoreError, digest
from handoff.errors import Busy, RateLimited

T = TypeVar("T")

log = logging.getLogger(__name__)

STORE_DOWN_RETRY_SECONDS = 5.0


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

    def __init__(self, store: LimitStore, pair: Bucket, address: Bucket) -> None:
        self._store = store
        self._pair = pair
        self._address = address
        self._settled = False

    async def failed(self) -> None:
        """The password was wrong: the failure stays counted."""
        self._settled = True

    async def succeeded(self) -> None:
        """The password was right: this user's failures from this address are forgiven; the
        address keeps its others (a valid account must not reset an attacker's count)."""
        if not self._settled:
            self._settled = True
            try:
                await self._store.forget([self._pair.key])
                await self._store.take([self._address], cost=-1, debt=True)
            except LimitStoreError as exc:
                _not_given_back(exc)

    async def abandoned(self) -> None:
        """No password was checked (e.g. the server was busy): the attempt does not count."""
        if not self._settled:
            self._settled = True
            try:
                await self._store.take([self._pair, self._address], cost=-1, debt=True)
            except LimitStoreError as exc:
                _not_given_back(exc)


def _not_given_back(exc: LimitStoreError) -> None:
    # the login itself is decided: a store that fails now only leaves one failure counted
    log.warning("desk login: could not give a login attempt back (%s)", exc)


class LoginThrottle:
    def __init__(
        self,
        *,
        store: LimitStore,
        max_failures: int,
        window_seconds: float,
        per_address_factor: int = 4,
    ) -> None:
        self._store = store
        self._max = max_failures
        self._window = window_seconds
        self._address_max = max_failures * per_address_factor

    async def reserve(self, username: str, address: str) -> Attempt:
        """Count an attempt now, or raise :class:`RateLimited` while either key is full
        (:class:`Busy` when the limits cannot be checked).

        The caller settles the returned :class:`Attempt` once the password is checked.
        """
        where = digest(address_key(address))
        pair = Bucket(f"login:pair:{where}:{digest(username.strip().lower())}",
                      self._max, self._max / self._window)
        per_address = Bucket(f"login:addr:{where}", self._address_max,
                             self._address_max / self._window)
        try:
            wait = await self._store.take([pair, per_address])
        except LimitStoreError as exc:
            log.error("desk login refused: the login limits cannot be checked (%s); "
                      "logins fail closed until the rate-limit store answers", exc)
            raise Busy("logging in is unavailable for a moment; try again shortly",
                       retry_after=STORE_DOWN_RETRY_SECONDS) from exc
        if wait > 0:
            raise RateLimited("too many failed logins; try again later",
                              retry_after=round(wait, 1))
        return Attempt(self._store, pair, per_address)


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
