"""The migrations build exactly the schema the tables declare (SQLite and PostgreSQL): a column,
index or constraint added to a table without its migration fails here, naming it."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import channels.email.tables  # the e-mail channel's table joins the metadata
import channels.web.tables  # noqa: F401  (the web chat sessions join the metadata)
import handoff.tables  # noqa: F401  (the handoff tables join the metadata)
from bot.storage import Base, Database
from bot.storage.tables import declared


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False, "include_name": declared})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_is_the_declared_one(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade()
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await db.close()
    assert differences == []
