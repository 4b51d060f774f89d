"""Search on PostgreSQL: its own full-text search over the GIN index ``ix_messages_text_fts``
(migration 0012). The condition repeats the index's expression, ``to_tsvector('russian',
text)``, word for word: otherwise the planner cannot use the index. ``websearch_to_tsquery``
reads any text without a syntax error, so the query goes to it as typed."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.sql.elements import ColumnClause

from bot.storage import Message
from handoff.search.base import SqlSearch
from handoff.search.text import ParsedQuery

# a literal, not a parameter: the index was built on the constant 'russian'
_CONFIG: ColumnClause[str] = literal_column("'russian'")


class PostgresSearch(SqlSearch):
    def _match(self, q: str, parsed: ParsedQuery) -> ColumnElement[bool]:
        return func.to_tsvector(_CONFIG, Message.text).bool_op("@@")(
            func.websearch_to_tsquery(_CONFIG, q)
        )
