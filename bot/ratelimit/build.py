"""Which store holds the shared limits: chosen once, by the composition root."""

from __future__ import annotations

from bot.config import Settings
from bot.ratelimit.database import DatabaseStore
from bot.ratelimit.memory import MemoryStore
from bot.ratelimit.redis_store import RedisStore
from bot.ratelimit.store import LimitStore
from bot.storage import Database


def store_for_database(db: Database) -> LimitStore:
    """SQLite means one process: its memory is the whole truth, and the fastest. PostgreSQL
    means there may be replicas: the table they all see."""
    return MemoryStore() if db.is_sqlite else DatabaseStore(db)


def build_limit_store(settings: Settings, db: Database) -> LimitStore:
    """Redis when ``REDIS_URL`` is set (a round trip cheaper than PostgreSQL's transaction),
    else by the database. The caller closes it."""
    if settings.redis_url is not None:
        return RedisStore.from_url(settings.redis_url.get_secret_value())
    return store_for_database(db)
