"""channel_cursors: where a channel's intake stands (VK long-poll ts, a mailbox's last UID)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:00:00

Platforms without acknowledgements (VK's Bots Long Poll, IMAP) are resumed from a cursor that
is written only after the events before it are stored: a restart neither loses nor repeats.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_cursors",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_cursors")
