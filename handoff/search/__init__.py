"""Transcript search over every message (stub until the implementation lands)."""

from __future__ import annotations

from bot.storage import Database


class TranscriptSearch:
    def __init__(self, db: Database) -> None:
        self._db = db


def build_search(db: Database) -> TranscriptSearch:
    return TranscriptSearch(db)
