"""Cursors of channels without acknowledgements: read at start, moved after storing.

A channel names its own cursors (``"vk:long_poll:<group>"``, ``"email:INBOX"`` holding ``"<uidvalidity>:<uid>"``)
and owns the format of the value; the core only keeps them.
"""

from __future__ import annotations

from bot.messages import utcnow
from bot.storage import ChannelCursor, Database


class Cursors:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> str | None:
        async with self._db.sessions() as session:
            row = await session.get(ChannelCursor, name)
            return row.value if row is not None else None

    async def put(self, name: str, value: str) -> None:
        """Store the cursor (one writer per name: a channel's own intake loop)."""
        async with self._db.transaction() as session:
            row = await session.get(ChannelCursor, name)
            if row is None:
                session.add(ChannelCursor(name=name, value=value, updated_at=utcnow()))
            else:
                row.value, row.updated_at = value, utcnow()
