"""Rate limits that hold across app replicas: token buckets in a store all replicas share.

:class:`LimitStore` is the one primitive (:meth:`LimitStore.take`); three backends keep the
buckets: :class:`MemoryStore` (this process only: SQLite, one process), :class:`DatabaseStore`
(a PostgreSQL table) and :class:`RedisStore` (``REDIS_URL``). :func:`build_limit_store` picks
one from the settings; :class:`FallbackStore` keeps a limit working, per process, while the
shared store is down.
"""

from bot.ratelimit.build import build_limit_store, store_for_database
from bot.ratelimit.database import DatabaseStore
from bot.ratelimit.fallback import FallbackStore
from bot.ratelimit.memory import MemoryStore
from bot.ratelimit.redis_store import RedisStore
from bot.ratelimit.store import Bucket, LimitStore, LimitStoreError, digest

__all__ = [
    "Bucket",
    "DatabaseStore",
    "FallbackStore",
    "LimitStore",
    "LimitStoreError",
    "MemoryStore",
    "RedisStore",
    "build_limit_store",
    "digest",
    "store_for_database",
]
