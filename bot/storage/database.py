"""The async engine and session factory, plus schema migration (Alembic) helpers."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Result, event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.storage.sqlite_inline import connect_inline

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# How the core locks a row it is about to change: FOR NO KEY UPDATE. Two lockers of one row still
# exclude each other, but a plain FOR UPDATE also conflicts with the KEY SHARE lock PostgreSQL
# takes on a row when another transaction inserts a row that references it (a message names its
# conversation and identity): two replicas handling one subscriber then deadlocked. (Statements
# say it as `.with_for_update(key_share=True)`.)
LOCK_ROW: dict[str, bool] = {"key_share": True}


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async drivers."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade_schema(url: str, revision: str = "head") -> None:
    """Apply migrations (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(url), revision)


class Database:
    """Owns the engine; hands out sessions. SQLite gets WAL and a busy timeout.

    SQLite has one writer at a time; two of this process's transactions that both write
    would meet in SQLite's busy handler, which sleeps and polls (whole milliseconds to tens
    of them: that was the web chat's p99). So on SQLite the process's write transactions
    queue on one asyncio lock instead and never meet; a transaction opened inside another by
    the same task passes (it would wait for itself). Reads (``sessions()``) never queue.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # hide_parameters: a failed statement's log line must not carry message texts or phones
        kwargs: dict[str, object] = {"echo": echo, "pool_pre_ping": True, "hide_parameters": True}
        if self.is_sqlite:
            path = make_url(self.url).database or ":memory:"
            kwargs["async_creator"] = functools.partial(connect_inline, path)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # aiosqlite logs every statement with its parameters (message text, phone numbers)
            # at DEBUG: keep that out of the log even when the app runs at DEBUG.
            logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = asyncio.Lock() if self.is_sqlite else None
        self._writing: ContextVar[bool] = ContextVar(f"writing-{id(self)}", default=False)

    async def upgrade(self) -> None:
        await asyncio.to_thread(upgrade_schema, self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._write_turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a transaction (for hot paths where the ORM costs more than it
        gives); queues like :meth:`transaction`."""
        async with self._write_turn(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        if self._writer is None or self._writing.get():
            yield
            return
        async with self._writer:
            token = self._writing.set(True)
            try:
                yield
            finally:
                self._writing.reset(token)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (``Result`` does not declare ``rowcount``)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
