"""messages: dedupe inbound messages per (identity, channel message id); count processing
attempts and mark a message that keeps failing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:00:00

Inbound messages were unique per (channel, channel_message_id), so the web chat had to build
one id from two ("user:message") and two users could collide. Each inbound message now carries
its identity, and the constraint is (identity_id, channel_message_id). Existing rows get their
identity from their conversation; stored web chat ids lose the "user:" prefix the old API added,
so a client that retries across the upgrade still gets its first answer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

# The identity of an inbound message, from its conversation (one conversation, one identity).
_IDENTITY = "(SELECT c.identity_id FROM conversations c WHERE c.id = messages.conversation_id)"
_USER = "(SELECT i.channel_user_id FROM identities i WHERE i.id = messages.identity_id)"


def upgrade() -> None:
    # Plain ALTERs on both databases; the constraint changes below rebuild the table once on
    # SQLite (batch mode) and are ALTERs on PostgreSQL.
    op.add_column("messages", sa.Column("identity_id", BigId, nullable=True))
    op.add_column(
        "messages", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("messages", sa.Column("failed_at", When, nullable=True))
    op.execute(f"UPDATE messages SET identity_id = {_IDENTITY} WHERE direction = 'in'")
    op.execute(
        f"UPDATE messages SET channel_message_id = "
        f"substr(channel_message_id, length({_USER}) + 2) "
        f"WHERE channel = 'webchat' AND direction = 'in' AND channel_message_id IS NOT NULL "
        f"AND substr(channel_message_id, 1, length({_USER}) + 1) = {_USER} || ':'"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_message_channel_id", type_="unique")
        batch.create_foreign_key(
            "fk_messages_identity_id", "identities", ["identity_id"], ["id"]
        )
        batch.create_unique_constraint(
            "uq_message_identity_id", ["identity_id", "channel_message_id"]
        )


def downgrade() -> None:
    op.execute(
        f"UPDATE messages SET channel_message_id = {_USER} || ':' || channel_message_id "
        f"WHERE channel = 'webchat' AND direction = 'in' AND channel_message_id IS NOT NULL "
        f"AND identity_id IS NOT NULL"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_message_identity_id", type_="unique")
        batch.drop_constraint("fk_messages_identity_id", type_="foreignkey")
        batch.create_unique_constraint(
            "uq_message_channel_id", ["channel", "channel_message_id"]
        )
        batch.drop_column("failed_at")
        batch.drop_column("attempts")
        batch.drop_column("identity_id")
