"""SQLite calls made in the event loop's own thread.

aiosqlite runs every sqlite3 call in a worker thread and hands the result back through the
event loop: several hops per statement, and under load each hop waits for the GIL (up to the
interpreter's 5 ms switch interval) while the loop is busy — the web chat's statements spent
more time waiting for their thread than SQLite spent on them. A WAL database on local disk
answers in microseconds, so here each call runs inline instead. It cannot wait on this
process's own writes (``Database`` queues them); it waits only when another process holds
the write lock (a CLI command, briefly), as long as SQLite's busy timeout at most.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite

BUSY_TIMEOUT_SECONDS = 30


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, but calls run in the caller's thread (opening and closing still
    use aiosqlite's thread, which also ends it)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


async def connect_inline(path: str) -> aiosqlite.Connection:
    def connector() -> sqlite3.Connection:
        # made in aiosqlite's thread, used in the loop's: hence check_same_thread=False
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)

    connection = InlineConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does: a stray one never holds an exit
    return await connection
