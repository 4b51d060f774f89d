"""The goodwill decision at claim time, the grant through the billing, the daily ``used``
refresh."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoffice_contract import Billing
from bot.storage import Conversation, Database
from handoff.tables import Handoff
from knowledge_base import KnowledgeBase


class Goodwill:
    def __init__(self, db: Database, *, kb: KnowledgeBase, billing: Billing | None,
                 wait_seconds: int, timezone: str) -> None:
        self._db = db
        self._kb = kb
        self._billing = billing
        self.wait_seconds = wait_seconds
        self.timezone = timezone
        self.wake = asyncio.Event()  # set after a commit that left a grant pending

    async def on_claimed(self, session: AsyncSession, conversation: Conversation,
                         handoff: Handoff, now: datetime) -> None:
        """Inside the claim's transaction: decide (and record) when the wait was too long."""

    async def on_ended_unanswered(self, session: AsyncSession, handoff: Handoff,
                                  now: datetime) -> None:
        """Inside the transaction that ends a handoff nobody answered (the subscriber
        cancelled or left): record the refusal when the wait was too long."""

    async def grant_pending(self) -> int:
        """Ask the billing for every pending grant; returns how many were confirmed."""
        return 0

    async def refresh_used(self, now: datetime | None = None) -> int:
        """Refresh the ``used`` flag of recent grants from the billing; returns how many."""
        return 0
