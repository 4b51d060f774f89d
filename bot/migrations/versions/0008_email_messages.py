"""email_messages: every mail in and out by Message-ID, with its thread (channels/email)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("thread_key", sa.String(255), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("subject_key", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_email_messages_address_subject", "email_messages",
                    ["address", "subject_key"])


def downgrade() -> None:
    op.drop_index("ix_email_messages_address_subject", table_name="email_messages")
    op.drop_table("email_messages")
