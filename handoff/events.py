"""Live desk updates: a signal the desk's event stream waits on (``Notifier.desk``, so that on
PostgreSQL a change made by one app process wakes the desks served by every other).

Changes made inside someone else's transaction (the core's message handling) publish only
once that transaction commits, so a woken desk never reads the database too early.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notify import Signal


class DeskEvents:
    def __init__(self, signal: Signal | None = None) -> None:
        self.signal = signal if signal is not None else Signal()

    def publish(self) -> None:
        self.signal.publish()

    def publish_on_commit(self, session: AsyncSession) -> None:
        event.listen(session.sync_session, "after_commit", self._after_commit, once=True)

    def _after_commit(self, _session: object) -> None:
        self.publish()
