"""The database side of workforce planning: weekly plans, published shifts, swaps and time off,
each change in the audit trail."""

from __future__ import annotations

from bot.config import Settings
from bot.storage import Database


class Workforce:
    def __init__(self, db: Database, *, settings: Settings) -> None:
        self._db = db
        self.settings = settings
