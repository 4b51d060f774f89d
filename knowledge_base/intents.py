"""TEMPORARY re-exports while the tree is being moved to the single owners (removed in phase 2)."""

from __future__ import annotations

from nlu.intents import entities, families, family_of
from nlu.languages import FALLBACK_LANGS as FALLBACK_LANGUAGES
from nlu.languages import LANGUAGES, language_order

INTENT_FAMILIES: tuple[str, ...] = families()
TOPIC_INTENTS: tuple[str, ...] = ("check_balance", "my_number", "roaming", "support_contacts")
ENTITIES: frozenset[str] = frozenset(entities())

__all__ = [
    "ENTITIES", "FALLBACK_LANGUAGES", "INTENT_FAMILIES", "LANGUAGES", "TOPIC_INTENTS",
    "family_of", "language_order",
]
