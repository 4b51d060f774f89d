"""Goodwill and workforce planning (#16): the goodwill decision on each long wait, the weekly
plan (forecast and required agents per interval), agents' shifts, shift swaps and time off

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "goodwill_decisions",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("handoff_id", BIG_ID, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("msisdn", sa.String(32), nullable=True),
        sa.Column("decided_at", WHEN, nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("cost", sa.String(32), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("granted_at", WHEN, nullable=True),
        sa.Column("used", sa.Boolean(), nullable=True),
        sa.Column("used_checked_at", WHEN, nullable=True),
        sa.UniqueConstraint("handoff_id", name="uq_goodwill_decisions_handoff"),
    )
    op.create_index("ix_goodwill_decisions_decided", "goodwill_decisions", ["decided_at"])
    op.create_index("ix_goodwill_decisions_customer", "goodwill_decisions",
                    ["customer_id", "decided_at"])
    op.create_index("ix_goodwill_decisions_outcome", "goodwill_decisions", ["outcome", "id"])

    op.create_table(
        "workforce_plans",
        sa.Column("week", sa.Date(), primary_key=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", BIG_ID, nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
    )
    op.create_table(
        "workforce_shifts",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("agent_id", BIG_ID, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("shift", sa.String(32), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_workforce_shifts_week", "workforce_shifts", ["week", "starts_at"])
    op.create_index("ix_workforce_shifts_agent", "workforce_shifts", ["agent_id", "starts_at"])
    op.create_table(
        "workforce_swaps",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("shift_id", BIG_ID, sa.ForeignKey("workforce_shifts.id"), nullable=False),
        sa.Column("offered_by", BIG_ID, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("accepted_by", BIG_ID, sa.ForeignKey("agents.id"), nullable=True),
        sa.Column("give_shift_id", BIG_ID, sa.ForeignKey("workforce_shifts.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("coverage_ok", sa.Boolean(), nullable=True),
        sa.Column("decided_by", BIG_ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
    )
    op.create_index("ix_workforce_swaps_status", "workforce_swaps", ["status", "id"])
    op.create_table(
        "workforce_time_off",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("agent_id", BIG_ID, sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", BIG_ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
    )
    op.create_index("ix_workforce_time_off_agent", "workforce_time_off",
                    ["agent_id", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_workforce_time_off_agent", table_name="workforce_time_off")
    op.drop_table("workforce_time_off")
    op.drop_index("ix_workforce_swaps_status", table_name="workforce_swaps")
    op.drop_table("workforce_swaps")
    op.drop_index("ix_workforce_shifts_agent", table_name="workforce_shifts")
    op.drop_index("ix_workforce_shifts_week", table_name="workforce_shifts")
    op.drop_table("workforce_shifts")
    op.drop_table("workforce_plans")
    op.drop_index("ix_goodwill_decisions_outcome", table_name="goodwill_decisions")
    op.drop_index("ix_goodwill_decisions_customer", table_name="goodwill_decisions")
    op.drop_index("ix_goodwill_decisions_decided", table_name="goodwill_decisions")
    op.drop_table("goodwill_decisions")
