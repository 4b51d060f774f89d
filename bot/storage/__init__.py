"""Storage: tables, the database handle and migrations."""

from bot.storage.database import (
    LOCK_ROW,
    Database,
    affected_rows,
    normalise_url,
    upgrade_schema,
)
from bot.storage.tables import (
    Base,
    ChannelCursor,
    Conversation,
    ConversationState,
    Customer,
    Identity,
    Message,
    OutboxItem,
    VerificationCode,
    VerificationEvent,
)

__all__ = [
    "LOCK_ROW",
    "Base",
    "ChannelCursor",
    "Conversation",
    "ConversationState",
    "Customer",
    "Database",
    "Identity",
    "Message",
    "OutboxItem",
    "VerificationCode",
    "VerificationEvent",
    "affected_rows",
    "normalise_url",
    "upgrade_schema",
]
