"""Buckets in Redis (``REDIS_URL``), shared by every replica that points at the same server.

One Lua script refills, checks and takes all the buckets of a call: Redis runs a script
alone, so two replicas never both pass on the last token. Time is the Redis server's clock
(``TIME``). Each bucket expires once it would be full again: Redis prunes idle ones itself.
The buckets of one call must live on one server: behind Redis Cluster they would need a
common hash tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.ratelimit.store import Bucket, LimitStoreError, stored_keys

PREFIX = "abonent:ratelimit:"
TIMEOUT_SECONDS = 1.0  # a hung Redis must not hold a web chat message longer than this

# KEYS: the buckets. ARGV: cost, debt ("1"/"0"), then capacity and per_second of each bucket.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local cost = tonumber(ARGV[1])
local debt = ARGV[2] == '1'
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'updated')
  local level = capacity
  if state[1] then
    local elapsed = math.max(0, now - tonumber(state[2]))
    level = math.min(capacity, tonumber(state[1]) + elapsed * rate)
  end
  levels[i] = level
  wait = math.max(wait, (cost - level) / rate)
end
if debt or wait <= 0 then
  for i, key in ipairs(KEYS) do
    local capacity = tonumber(ARGV[1 + 2 * i])
    local rate = tonumber(ARGV[2 + 2 * i])
    local left = math.min(capacity, levels[i] - cost)
    redis.call('HSET', key, 'tokens', string.format('%.17g', left),
               'updated', string.format('%.17g', now))
    redis.call('PEXPIRE', key, math.ceil((capacity - left) / rate * 1000) + 1000)
  end
end
return string.format('%.17g', math.max(wait, 0))
"""


class RedisStore:
    def __init__(self, client: Redis) -> None:
        self._client = client
        self._take = client.register_script(_TAKE)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connects lazily: a Redis that is down at start-up is a warning later, not a crash."""
        return cls(Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS,
                                  socket_connect_timeout=TIMEOUT_SECONDS))

    async def take(
        self, buckets: Sequence[Bucket], *, cost: float = 1.0, debt: bool = False
    ) -> float:
        if not buckets:
            return 0.0
        args: list[str | float] = [repr(cost), "1" if debt else "0"]
        for bucket in buckets:
            args += [repr(bucket.capacity), repr(bucket.per_second)]
        try:
            answer = await self._take(keys=[PREFIX + b.stored_key for b in buckets], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimitStoreError(f"Redis: {type(exc).__name__}: {exc}") from exc
        return float(answer)

    async def forget(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*[PREFIX + key for key in stored_keys(keys)])
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimitStoreError(f"Redis: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
