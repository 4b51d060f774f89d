"""outbox: a partial index for the sender's "head row per address" query

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:30:00

The sender picks each address's oldest pending row (MIN(id) grouped by channel and address) and
parks pending rows of disabled channels; the index covers both and stays small as sent rows pile
up (only pending rows are in it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_pending_heads", "outbox", ["channel", "address", "id"],
        postgresql_where=PENDING, sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_heads", table_name="outbox")
