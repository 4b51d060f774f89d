"""Quality figures for supervisors (stub until the implementation lands)."""

from __future__ import annotations

from bot.storage import Database


class Analytics:
    def __init__(self, db: Database, *, target_seconds: int, timezone: str) -> None:
        self._db = db
        self.target_seconds = target_seconds
        self.timezone = timezone
