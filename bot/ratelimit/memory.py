"""Buckets in this process's memory: one process (SQLite), or the fallback of a shared store.

No ``await`` between reading and writing a bucket, so the event loop cannot interleave two
callers and no lock is needed. Idle buckets are dropped now and then: a bucket that has refilled
completely is the same as none, so a flood of new keys cannot grow memory without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.ratelimit.store import Bucket, wait_for

PRUNE_EVERY = 1024  # operations between sweeps of full buckets


@dataclass(slots=True)
class _State:
    tokens: float
    updated: float
    full_at: float


class MemoryStore:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _State] = {}
        self._operations = 0

    async def take(
        self, buckets: Sequence[Bucket], *, cost: float = 1.0, debt: bool = False
    ) -> float:
        now = self._clock()
        self._operations += 1
        if self._operations % PRUNE_EVERY == 0:
            self._prune(now)
        states = [self._refilled(bucket, now) for bucket in buckets]
        pairs = list(zip(states, buckets, strict=True))
        wait = max((wait_for(s.tokens, cost, b.per_second) for s, b in pairs), default=0.0)
        if debt or wait == 0:
            for state, bucket in pairs:
                state.tokens = min(bucket.capacity, state.tokens - cost)
                state.full_at = now + (bucket.capacity - state.tokens) / bucket.per_second
        return wait

    async def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._buckets.pop(key, None)

    async def close(self) -> None:
        self._buckets.clear()

    def _refilled(self, bucket: Bucket, now: float) -> _State:
        state = self._buckets.get(bucket.key)
        if state is None:
            state = self._buckets[bucket.key] = _State(bucket.capacity, now, now)
        else:
            elapsed = max(0.0, now - state.updated)
            state.tokens = min(bucket.capacity, state.tokens + elapsed * bucket.per_second)
            state.updated = now
        return state

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._buckets.items() if s.full_at <= now]:
            del self._buckets[key]
