"""handoffs: the client address an anonymous (web chat) subscriber wrote from

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:20:00

The web chat caps the open handoffs one client address may have
(WEBCHAT_MAX_OPEN_HANDOFFS_PER_IP); the count needs the address on the handoff. Existing rows
keep NULL (no address known), so they count against nobody.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
        batch.create_index("ix_handoffs_client_address", ["client_address"])


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_index("ix_handoffs_client_address")
        batch.drop_column("client_address")
