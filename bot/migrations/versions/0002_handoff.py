"""handoff: agents, their login sessions, handoffs (queue, context card, service level, rating)
and internal notes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:18:09.726939
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_agent_sessions_agent_id", "agent_sessions", ["agent_id"])

    op.create_table(
        "handoffs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("agent_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("claimed_at", When, nullable=True),
        sa.Column("first_reply_at", When, nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("last_subscriber_at", When, nullable=True),
        sa.Column("last_agent_at", When, nullable=True),
        sa.Column("ended_at", When, nullable=True),
        sa.Column("ended_by", BigId, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", When, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["ended_by"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoffs_conversation", "handoffs", ["conversation_id", "id"])
    op.create_index("ix_handoffs_created", "handoffs", ["created_at"])
    op.create_index("ix_handoffs_status_created", "handoffs", ["status", "created_at"])

    op.create_table(
        "handoff_notes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handoff_id", BigId, nullable=False),
        sa.Column("agent_id", BigId, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_notes_handoff_id", "handoff_notes", ["handoff_id"])


def downgrade() -> None:
    op.drop_index("ix_handoff_notes_handoff_id", table_name="handoff_notes")
    op.drop_table("handoff_notes")
    op.drop_index("ix_handoffs_status_created", table_name="handoffs")
    op.drop_index("ix_handoffs_created", table_name="handoffs")
    op.drop_index("ix_handoffs_conversation", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_agent_sessions_agent_id", table_name="agent_sessions")
    op.drop_table("agent_sessions")
    op.drop_table("agents")
