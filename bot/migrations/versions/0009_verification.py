"""verification_codes and verification_events: one-time codes by SMS and their audit (#12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("identity_id", BigId, sa.ForeignKey("identities.id"), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_verification_codes_identity_id", "verification_codes", ["identity_id"])
    op.create_index("ix_verification_codes_phone_created", "verification_codes",
                    ["phone", "created_at"])
    op.create_table(
        "verification_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("identity_id", BigId, sa.ForeignKey("identities.id"), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_verification_events_identity_created", "verification_events",
                    ["identity_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_verification_events_identity_created", table_name="verification_events")
    op.drop_table("verification_events")
    op.drop_index("ix_verification_codes_phone_created", table_name="verification_codes")
    op.drop_index("ix_verification_codes_identity_id", table_name="verification_codes")
    op.drop_table("verification_codes")
