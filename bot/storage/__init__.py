"""Storage: tables, the database handle and migrations."""

from bot.storage.database import Database, normalise_url, upgrade_schema
from bot.storage.models import (
    Base,
    Conversation,
    ConversationState,
    Customer,
    Identity,
    Message,
    OutboxItem,
)

__all__ = [
    "Base",
    "Conversation",
    "ConversationState",
    "Customer",
    "Database",
    "Identity",
    "Message",
    "OutboxItem",
    "normalise_url",
    "upgrade_schema",
]
