"""conversations.thread_key: one conversation per thread for channels with threads (e-mail)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:10:00

Chats keep one conversation per identity at a time (thread_key NULL); an e-mail thread (keyed
by its root Message-ID) gets a conversation of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("thread_key", sa.String(255), nullable=True))
    op.create_index("ix_conversations_identity_thread", "conversations",
                    ["identity_id", "thread_key"])


def downgrade() -> None:
    op.drop_index("ix_conversations_identity_thread", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("thread_key")
