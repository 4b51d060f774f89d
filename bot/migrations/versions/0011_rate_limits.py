"""Rate limits shared by app replicas (#13): one token bucket per key, pruned once full again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("capacity", sa.Double(), nullable=False),
        sa.Column("per_second", sa.Double(), nullable=False),
        sa.Column("updated", sa.Double(), nullable=False),
        sa.Column("full_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_rate_limits_full_at", "rate_limits", ["full_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_full_at", table_name="rate_limits")
    op.drop_table("rate_limits")
