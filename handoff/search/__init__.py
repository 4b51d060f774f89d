"""Transcript search over every message, for supervisors: full text with Russian and English
stemming, filters, newest first, pages, and snippets with the hits marked.

One interface, :class:`TranscriptSearch`; :func:`build_search` picks the database's own:
PostgreSQL's full-text search over a GIN index (``postgres.py``) or SQLite FTS5 filled with
stems by the app (``sqlite.py``). Filters, pages and snippets are shared (``base.py``); the
words, stems, query language and snippets are ``text.py``; the route is ``api.py``.
"""

from __future__ import annotations

from typing import Protocol

from bot.storage import Database
from handoff.search.postgres import PostgresSearch
from handoff.search.schemas import SearchOut, SearchQuery
from handoff.search.sqlite import SqliteSearch

__all__ = ["SearchOut", "SearchQuery", "TranscriptSearch", "build_search"]


class TranscriptSearch(Protocol):
    async def search(self, query: SearchQuery) -> SearchOut:
        """A page of results: the messages matching ``query.q`` (newest first), or without
        ``q`` each matching conversation's latest message."""
        ...

    async def catch_up(self) -> int:
        """Bring the text index up to date now (SQLite; a search does it anyway); how many
        messages it indexed. Nothing to do on PostgreSQL, whose index follows every write."""
        ...


def build_search(db: Database) -> TranscriptSearch:
    return SqliteSearch(db) if db.is_sqlite else PostgresSearch(db)
