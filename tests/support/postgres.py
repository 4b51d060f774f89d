"""A fresh PostgreSQL database per test or stress round: created on entry, dropped on exit (even
while a killed app's connections linger)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import normalise_url


@asynccontextmanager
async def postgres_database(admin_url: str, prefix: str = "abonent_test") -> AsyncIterator[str]:
    """Yield the URL of a new, empty database on the server of ``admin_url``."""
    admin = make_url(normalise_url(admin_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def database_for_test(request: pytest.FixtureRequest, directory: Path) -> AsyncIterator[str]:
    """The database of a ``database_url`` fixture: ``request.param`` is "sqlite" (a file in
    ``directory``) or "postgres" (a fresh database on TEST_DATABASE_URL's server; skipped when
    it is unreachable, unless ABONENT_REQUIRE_POSTGRES=1, as in CI)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'abonent.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(postgres_database(admin_url))
        except Exception as exc:
            if os.environ.get("ABONENT_REQUIRE_POSTGRES") == "1":
                raise
            pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
        yield url
