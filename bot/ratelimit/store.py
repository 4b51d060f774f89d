"""The contract every backend keeps: token buckets, taken from all at once or not at all.

A bucket holds up to ``capacity`` tokens and refills at ``per_second``; a bucket never seen
before (or forgotten) is full. The state of a key is two numbers, so every backend can update
it atomically: a Lua script in Redis, one locked row in PostgreSQL, no ``await`` in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_KEY = 200  # characters; longer keys are stored as their hash


class LimitStoreError(Exception):
    """The shared store could not be reached or refused the operation; each caller decides
    whether its limit fails open (the web chat, the sends) or closed (the desk login)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    capacity: float
    per_second: float  # refill rate, > 0

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.per_second <= 0:
            raise ValueError(f"a bucket needs a positive capacity and rate, got {self!r}")

    @property
    def stored_key(self) -> str:
        # user ids and usernames come from outside: bound what a key may cost in a row
        if len(self.key) <= MAX_KEY:
            return self.key
        return "sha256:" + hashlib.sha256(self.key.encode()).hexdigest()


class LimitStore(Protocol):
    async def take(
        self, buckets: Sequence[Bucket], *, cost: float = 1.0, debt: bool = False
    ) -> float:
        """Take ``cost`` tokens from every bucket, atomically across processes.

        Without ``debt``: when each bucket holds ``cost``, take them and return 0; otherwise
        take nothing and return the seconds until each would. With ``debt`` the tokens are taken
        regardless (a bucket may go below zero: a reservation of a later slot) and the answer is
        how long to wait for that slot. A negative ``cost`` gives tokens back (up to capacity).
        Raises :class:`LimitStoreError` when the store fails.
        """
        ...

    async def forget(self, keys: Sequence[str]) -> None:
        """Make these buckets full again."""
        ...

    async def close(self) -> None: ...


def wait_for(tokens: float, cost: float, per_second: float) -> float:
    """Seconds until a bucket holding ``tokens`` holds ``cost`` (0 when it already does)."""
    return max(0.0, (cost - tokens) / per_second)


def digest(text: str) -> str:
    """A short stand-in for what a key is about (an address, a username): the store needs no
    more than equality, and keeps neither personal data nor unbounded lengths."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stored_keys(keys: Sequence[str]) -> list[str]:
    return [Bucket(key, 1, 1).stored_key for key in keys]
