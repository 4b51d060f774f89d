"""Verified identity (#12): when and how an identity was verified, one customer per verified
number, and the web chat's browser sessions (only a hash of each token is stored)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verified_via", sa.String(16), nullable=True))
    op.create_index("uq_customers_verified_phone", "customers", ["verified_phone"], unique=True)
    op.create_table(
        "webchat_sessions",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_webchat_sessions_token_hash", "webchat_sessions", ["token_hash"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_webchat_sessions_token_hash", table_name="webchat_sessions")
    op.drop_table("webchat_sessions")
    op.drop_index("uq_customers_verified_phone", table_name="customers")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("verified_via")
        batch.drop_column("verified_at")
