"""Abuse limits of the anonymous web chat: messages per minute per client address and per user.

A token bucket per key (capacity = the per-minute rate, refilled continuously) allows a short
burst and then the steady rate. The buckets live in the store the composition root chose
(bot/ratelimit): this process's memory on SQLite, the database or Redis with replicas, so
several replicas enforce one limit together, not one each.

When the shared store fails, the limits fall back to this process's own buckets (a warning
says so): a store hiccup must never lose a subscriber's message, and a flood from one client
is still bounded per replica meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.config import Settings
from bot.ratelimit import Bucket, FallbackStore, LimitStore, digest

WINDOW = 60.0  # the rates are per minute


def per_minute(key: str, rate: int) -> Bucket:
    return Bucket(key, capacity=rate, per_second=rate / WINDOW)


@dataclass(frozen=True)
class WebChatLimits:
    per_address: int  # messages a minute; 0 = off
    per_user: int
    store: LimitStore

    @classmethod
    def from_settings(cls, settings: Settings, store: LimitStore) -> WebChatLimits:
        return cls(settings.webchat_rate_per_ip, settings.webchat_rate_per_user,
                   FallbackStore(store, what="web chat limits"))

    async def admit(self, address: str, user_id: str) -> int:
        """0 and counts the message when both limits allow it; else the whole seconds to wait
        (nothing is counted, so a refused message does not push the wait further out)."""
        buckets = []
        if self.per_address:
            buckets.append(per_minute(f"webchat:addr:{digest(address)}", self.per_address))
        if self.per_user:
            buckets.append(per_minute(f"webchat:user:{digest(user_id)}", self.per_user))
        if not buckets:
            return 0
        wait = await self.store.take(buckets)
        return max(1, math.ceil(wait)) if wait > 0 else 0
