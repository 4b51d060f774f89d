"""Migration 0003 on a database with data (SQLite and PostgreSQL): inbound messages get their
identity from their conversation, web chat ids lose the old "user:" prefix, and the new unique
key is (identity, channel message id)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.storage import Database, upgrade_schema
from bot.storage.database import alembic_config


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


SEED = [
    "INSERT INTO customers (id, created_at) VALUES (1, :now), (2, :now)",
    ("INSERT INTO identities (id, customer_id, channel, channel_user_id, address, created_at) "
    "VALUES (1, 1, 'webchat', 'a:b', 'a:b', :now), (2, 2, 'telegram', '5001', '5001', :now)"),
    ("INSERT INTO conversations (id, customer_id, identity_id, channel, state, misunderstandings, "
    "context, created_at, updated_at) VALUES "
    "('c1', 1, 1, 'webchat', 'bot', 0, '{}', :now, :now), "
    "('c2', 2, 2, 'telegram', 'bot', 0, '{}', :now, :now)"),
    ("INSERT INTO messages (id, conversation_id, direction, sender, channel, channel_message_id, "
    "text, created_at, processed_at) VALUES "
    "(1, 'c1', 'in', 'subscriber', 'webchat', 'a:b:c', 'hi', :now, :now), "
    "(2, 'c1', 'out', 'bot', 'webchat', NULL, 'hello', :now, :now), "
    "(3, 'c2', 'in', 'subscriber', 'telegram', '5001:7', 'hi', :now, NULL)"),
]
ROWS = "SELECT id, identity_id, channel_message_id, attempts, failed_at FROM messages ORDER BY id"


async def test_existing_messages_are_carried_over(database_url: str) -> None:
    await asyncio.to_thread(upgrade_schema, database_url, "0002")
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            for statement in SEED:
                await session.execute(text(statement), {"now": datetime.now(UTC)})
        await asyncio.to_thread(upgrade_schema, database_url, "0003")

        async with db.sessions() as session:
            rows = [tuple(row) for row in (await session.execute(text(ROWS))).all()]
        assert rows == [
            (1, 1, "c", 0, None),  # the web chat id without the old "user:" prefix
            (2, None, None, 0, None),  # outbound: no identity
            (3, 2, "5001:7", 0, None),
        ]
        with pytest.raises(IntegrityError, match="identity_id"):  # unique per (identity, id)
            async with db.transaction() as session:
                await session.execute(text(
                    "INSERT INTO messages (id, conversation_id, identity_id, direction, sender, "
                    "channel, channel_message_id, text, created_at) VALUES "
                    "(10, 'c1', 1, 'in', 'subscriber', 'webchat', 'c', 'again', :now)"
                ), {"now": datetime.now(UTC)})
        async with db.transaction() as session:  # the same id from another identity is fine
            await session.execute(text(
                "INSERT INTO messages (id, conversation_id, identity_id, direction, sender, "
                "channel, channel_message_id, text, created_at) VALUES "
                "(11, 'c2', 2, 'in', 'subscriber', 'telegram', 'c', 'other', :now)"
            ), {"now": datetime.now(UTC)})

        await db.close()
        await asyncio.to_thread(_downgrade, database_url, "0002")
        async with db.sessions() as session:
            ids = (await session.execute(
                text("SELECT channel_message_id FROM messages ORDER BY id")
            )).scalars().all()
        assert ids == ["a:b:c", None, "5001:7", "c"]
    finally:
        await db.close()
