"""The knowledge base: articles and reference data (YAML under ``data/``) and their loader.

    kb = load_knowledge_base()                 # validated; KnowledgeBaseError names FILE:LINE
    kb.answer("roaming_trouble", {"country": "Poland"}, "ru")   # -> Answer | None
    kb.phrase(PhraseKey.CLARIFY, "en"); kb.intent_label("check_balance", "ru"); kb.country("польшу")

Errors: ``KnowledgeBaseError`` (a ValueError) with ``problems``, one "FILE:LINE: FIELD: MESSAGE"
string each.
"""

from __future__ import annotations

from knowledge_base.answers import Answer, AnswerButton
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.loader import check_knowledge_base, load_knowledge_base
from knowledge_base.phrase_keys import PhraseKey
from knowledge_base.schema import Article, Country, Zone
from knowledge_base.service import KnowledgeBase
from knowledge_base.sources import DEFAULT_DATA_DIR

__all__ = [
    "DEFAULT_DATA_DIR",
    "Answer",
    "AnswerButton",
    "Article",
    "Country",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "PhraseKey",
    "Zone",
    "check_knowledge_base",
    "load_knowledge_base",
]
