"""Agent assist (stub until the implementation lands)."""

from __future__ import annotations

from bot.backoffice_contract import Billing
from bot.storage import Database
from knowledge_base import KnowledgeBase


class Assist:
    def __init__(self, db: Database, *, kb: KnowledgeBase, billing: Billing | None) -> None:
        self._db = db
        self._kb = kb
        self._billing = billing
