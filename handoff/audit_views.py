"""Reading the audit trail and replaying a conversation (stub until the implementation lands)."""

from __future__ import annotations

from bot.storage import Database


class AuditViews:
    def __init__(self, db: Database, *, silence_alert_seconds: int) -> None:
        self._db = db
        self.silence_alert_seconds = silence_alert_seconds
