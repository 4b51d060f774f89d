"""Quality figures, skills-based routing and agent assist (#15): agents' skills, the skill a
handoff needs, and what the desk suggested to agents and what they used

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("skills", sa.JSON(), nullable=True))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("skill", sa.String(32), nullable=True))
    op.create_table(
        "assist_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handoff_id", BIG_ID, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("agent_id", BIG_ID, nullable=True),
        sa.Column("article", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
    )
    op.create_index("ix_assist_events_handoff", "assist_events", ["handoff_id", "id"])
    op.create_index("ix_assist_events_at", "assist_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_assist_events_at", table_name="assist_events")
    op.drop_index("ix_assist_events_handoff", table_name="assist_events")
    op.drop_table("assist_events")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("skill")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("skills")
