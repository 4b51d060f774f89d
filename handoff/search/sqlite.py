"""Search on SQLite: the FTS5 table ``messages_fts`` (migration 0012; rowid = messages.id)
holds each message's words stemmed here (handoff/search/text.py), since SQLite's own
tokenizers know no Russian.

The app keeps the index: messages are never edited once processed, so it catches up by id
before each search, reading only messages past the highest indexed one (one indexed query when
nothing is new), a batch at a time, under a lock (SQLite runs one app process). Stemming runs
in a worker thread; the rows go in through the database's write queue.

An inbound message is indexed only once it is processed: a message that held a one-time code
is rewritten then (bot/turns.py), and the index must never keep the code. So the index stops
short of an unprocessed message, which normally takes a moment; one left unprocessed longer
than ``STUCK_AFTER`` is set aside (retried before each search) so it cannot hold back the rest.
The set-aside list lives in memory: after a restart such a message stays out of the index.

The first search on a database with a long history indexes all of it (about 2 s per 50,000
messages); :meth:`SqliteSearch.catch_up` can run at start-up instead.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, column, select, text

from bot.messages import utcnow
from bot.storage import Database, Message
from handoff.search.base import SqlSearch
from handoff.search.text import ParsedQuery, fts5_expression, stems
from handoff.timeutil import aware

log = logging.getLogger(__name__)

BATCH = 2000
PROGRESS_EVERY = 20_000  # messages: a progress line while a long history is indexed
STUCK_AFTER = timedelta(minutes=5)

_HIGHEST = text("SELECT rowid FROM messages_fts ORDER BY rowid DESC LIMIT 1")
_INSERT = text("INSERT INTO messages_fts (rowid, stems) VALUES (:id, :stems)")
_MATCHING = (
    text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :fts")
    .columns(column("rowid", Integer))
)
_COLUMNS = (Message.id, Message.text, Message.direction, Message.processed_at, Message.created_at)


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    text: str
    settled: bool  # outbound, or processed: its text is final
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> _Row:
        return cls(row.id, row.text or "", row.direction != "in" or row.processed_at is not None,
                   aware(row.created_at))


class SqliteSearch(SqlSearch):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._lock = asyncio.Lock()
        self._indexed_to: int | None = None  # every message up to here is indexed or set aside
        self._set_aside: set[int] = set()  # unprocessed for too long: indexed once processed

    def _match(self, q: str, parsed: ParsedQuery) -> ColumnElement[bool]:
        return Message.id.in_(_MATCHING.bindparams(fts=fts5_expression(parsed)))

    async def catch_up(self) -> int:
        indexed = 0
        async with self._lock:
            if self._indexed_to is None:
                async with self._db.sessions() as session:
                    self._indexed_to = (await session.scalar(_HIGHEST)) or 0
            if self._set_aside:
                indexed += await self._retry_set_aside()
            while True:
                async with self._db.sessions() as session:
                    rows = [_Row.of(r) for r in await session.execute(
                        select(*_COLUMNS).where(Message.id > self._indexed_to)
                        .order_by(Message.id).limit(BATCH)
                    )]
                ready, aside, reached, blocked = _ready(rows, self._indexed_to)
                await self._index(ready)
                indexed += len(ready)
                self._indexed_to = reached
                self._set_aside |= aside
                if blocked or len(rows) < BATCH:
                    return indexed
                if indexed % PROGRESS_EVERY < len(ready):  # a long history: say how far
                    log.info("search index: %d messages indexed so far (up to id %d)",
                             indexed, reached)

    async def _retry_set_aside(self) -> int:
        async with self._db.sessions() as session:
            rows = [_Row.of(r) for r in await session.execute(
                select(*_COLUMNS).where(Message.id.in_(self._set_aside))
            )]
        settled = [r for r in rows if r.settled]
        await self._index(settled)
        self._set_aside -= {r.id for r in settled}
        self._set_aside &= {r.id for r in rows}  # forget the ones that are gone
        return len(settled)

    async def _index(self, rows: list[_Row]) -> None:
        documents = await asyncio.to_thread(_documents, rows)
        if documents:
            async with self._db.begin() as connection:
                await connection.execute(_INSERT, documents)


def _documents(rows: list[_Row]) -> list[dict[str, Any]]:
    documents = []
    for row in rows:
        words = stems(row.text)
        if words:  # a message without words (a button, a sticker) has nothing to find
            documents.append({"id": row.id, "stems": " ".join(words)})
    return documents


def _ready(rows: list[_Row], indexed_to: int) -> tuple[list[_Row], set[int], int, bool]:
    """Of the rows after ``indexed_to`` (in id order): those to index now, those to set aside,
    how far the index then reaches, and whether an unprocessed message stopped it."""
    ready: list[_Row] = []
    aside: set[int] = set()
    stuck_before = utcnow() - STUCK_AFTER
    for row in rows:
        if not row.settled:
            if row.created_at > stuck_before:
                return ready, aside, indexed_to, True
            aside.add(row.id)
        else:
            ready.append(row)
        indexed_to = row.id
    return ready, aside, indexed_to, False
