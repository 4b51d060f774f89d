"""The live monitor and its alerts (stub until the implementation lands)."""

from __future__ import annotations

from bot.storage import Database
from knowledge_base import KnowledgeBase


class Monitor:
    def __init__(self, db: Database, *, kb: KnowledgeBase, silence_alert_seconds: int,
                 target_seconds: int, bot_idle_minutes: float) -> None:
        self._db = db
        self._kb = kb
        self.silence_alert_seconds = silence_alert_seconds
        self.target_seconds = target_seconds
        self.bot_idle_minutes = bot_idle_minutes
