"""Abuse limits of the anonymous web chat: messages per minute per client address and per user.

A token bucket per key (capacity = the per-minute rate, refilled continuously) allows a short
burst and then the steady rate; it is one float pair per key, and idle keys are dropped, so a
flood of new addresses or user ids cannot grow memory without bound. State is in memory, per
app process: with several replicas each enforces its own share, which is enough to keep one
client from flooding the agents' queue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings

WINDOW = 60.0  # the rates are per minute
PRUNE_EVERY = 1024  # checks between sweeps of idle keys


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class MessageRateLimiter:
    """``rate`` events per minute per key; 0 turns the limit off."""

    def __init__(self, rate: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._checks = 0

    def wait_seconds(self, key: str) -> float:
        """0 when ``key`` may go now, else how long until it may (nothing is consumed)."""
        if not self.rate:
            return 0.0
        bucket = self._bucket(key, self._clock())
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) * WINDOW / self.rate

    def consume(self, key: str) -> None:
        if self.rate:
            self._bucket(key, self._clock()).tokens -= 1

    def _bucket(self, key: str, now: float) -> _Bucket:
        self._checks += 1
        if self._checks % PRUNE_EVERY == 0:
            self._prune(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.rate), now)
        else:
            refill = (now - bucket.updated) * self.rate / WINDOW
            bucket.tokens = min(float(self.rate), bucket.tokens + refill)
            bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        # a bucket idle for a whole window is full again: forgetting it changes nothing
        idle = [k for k, b in self._buckets.items() if now - b.updated >= WINDOW]
        for key in idle:
            del self._buckets[key]


@dataclass(frozen=True)
class WebChatLimits:
    per_address: MessageRateLimiter
    per_user: MessageRateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> WebChatLimits:
        return cls(MessageRateLimiter(settings.webchat_rate_per_ip),
                   MessageRateLimiter(settings.webchat_rate_per_user))

    def admit(self, address: str, user_id: str) -> int:
        """0 and counts the message when both limits allow it; else the whole seconds to wait
        (nothing is counted, so a refused message does not push the wait further out)."""
        wait = max(self.per_address.wait_seconds(address), self.per_user.wait_seconds(user_id))
        if wait > 0:
            return max(1, math.ceil(wait))
        self.per_address.consume(address)
        self.per_user.consume(user_id)
        return 0
