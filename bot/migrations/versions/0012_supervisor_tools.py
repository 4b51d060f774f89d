"""Supervisor tools (#14): the desk's append-only audit trail, whispers, a supervisor joining
a handoff, the longest silence of each handoff, full-text search over every message, and an
index of conversations by their last change (the live monitor)

The audit trail refuses UPDATE and DELETE in the database itself (triggers), so no code path
of the app, nor a slip in one, can rewrite it. Full-text search: PostgreSQL indexes
``to_tsvector('russian', text)`` with GIN (Russian words get the Russian stemmer, Latin ones
the English stemmer); SQLite gets an FTS5 table of stemmed words that the app fills
(handoff/search/). Creating the GIN index reads the whole messages table once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:59:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

APPEND_ONLY = "desk_audit is append-only: the audit trail cannot be changed or deleted"


def upgrade() -> None:
    op.create_table(
        "desk_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("handoff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_desk_audit_conversation", "desk_audit", ["conversation_id", "id"])
    op.create_index("ix_desk_audit_agent", "desk_audit", ["agent_id", "id"])
    op.create_index("ix_desk_audit_at", "desk_audit", ["at"])
    op.create_index("ix_conversations_updated", "conversations", ["updated_at"])
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("supervisor_id", sa.BigInteger().with_variant(
            sa.Integer(), "sqlite"), sa.ForeignKey("agents.id", name="fk_handoffs_supervisor"),
            nullable=True))
        batch.add_column(sa.Column("longest_silence_seconds", sa.Float(), nullable=True))
    with op.batch_alter_table("handoff_notes") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="note"))

    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION desk_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute("CREATE TRIGGER desk_audit_no_change BEFORE UPDATE OR DELETE ON desk_audit "
                   "FOR EACH ROW EXECUTE FUNCTION desk_audit_append_only()")
        op.execute("CREATE TRIGGER desk_audit_no_truncate BEFORE TRUNCATE ON desk_audit "
                   "FOR EACH STATEMENT EXECUTE FUNCTION desk_audit_append_only()")
        op.execute("CREATE INDEX ix_messages_text_fts ON messages "
                   "USING gin (to_tsvector('russian', text))")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER desk_audit_no_{event.lower()} BEFORE {event} ON "
                       f"desk_audit BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
        # -- SQLite full-text search (owned by handoff/search/sqlite.py) --------------------
        # rowid = messages.id; ``stems`` holds the message's words, stemmed by the app
        op.execute("CREATE VIRTUAL TABLE messages_fts USING fts5(stems, content='', "
                   "tokenize='unicode61 remove_diacritics 0')")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_text_fts")
        op.execute("DROP TABLE desk_audit")  # takes its triggers along
        op.execute("DROP FUNCTION desk_audit_append_only()")
    else:
        op.execute("DROP TABLE messages_fts")
        op.drop_table("desk_audit")
    with op.batch_alter_table("handoff_notes") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_conversations_updated", table_name="conversations")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("fk_handoffs_supervisor", type_="foreignkey")
        batch.drop_column("longest_silence_seconds")
        batch.drop_column("supervisor_id")
