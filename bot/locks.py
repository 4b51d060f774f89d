"""Per-key locks: one conversation is handled by one task at a time, in order.

:class:`KeyedLocks` orders the tasks of this process. :class:`ConversationLocks` adds, on
PostgreSQL, an advisory lock on the same key, so that across app processes (workers, replicas)
one conversation is handled by one of them at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Database

# one 64-bit lock id per key; hashtextextended is PostgreSQL's own stable string hash
_LOCK = text("SELECT pg_advisory_lock(hashtextextended(:key, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))")
# A held advisory lock keeps its connection, so those come from a pool of their own: a process
# holding many conversations must never starve its transactions of connections (each holder
# also needs one for its transaction, and a shared pool would deadlock at its size).
LOCK_CONNECTIONS = 16


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:  # forget idle keys so the dict does not grow forever
                del self._users[key]
                del self._locks[key]


class ConversationLocks:
    """This process's lock per key, then (PostgreSQL) the database-wide advisory lock.

    The local lock comes first, so a process waits for a key on at most one connection; the
    advisory lock is a session lock on a pooled connection of its own (``LOCK_CONNECTIONS``
    at once; more holders wait for a free one, which is waiting for the lock by another name).
    SQLite is one process: the local lock is the whole story.
    """

    def __init__(self, db: Database) -> None:
        self._local = KeyedLocks()
        self._engine = None if db.is_sqlite else create_async_engine(
            db.url, pool_size=LOCK_CONNECTIONS, max_overflow=0, pool_timeout=3600,
            pool_pre_ping=True, hide_parameters=True,
        )

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._local.hold(key):
            if self._engine is None:
                yield
                return
            async with self._engine.connect() as connection:
                await connection.execute(_LOCK, {"key": key})
                await connection.commit()  # the lock is the session's, not a transaction's
                try:
                    yield
                finally:
                    # a lost connection releases it anyway: PostgreSQL ends the session
                    await connection.execute(_UNLOCK, {"key": key})
                    await connection.commit()

    def local(self, key: str) -> AbstractAsyncContextManager[None]:
        """Only this process's lock (for a transaction that excludes the other processes by
        its row locks)."""
        return self._local.hold(key)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
