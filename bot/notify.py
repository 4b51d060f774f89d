"""In-process wake-ups: new replies (web chat long polling) and new outbox rows (the sender).

A waiter takes a :meth:`Signal.token` *before* it looks at the database, then waits on it, so a
publish that happens in between is never missed. Across replicas this becomes PostgreSQL
``LISTEN/NOTIFY``; the interface stays the same.
"""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def token(self) -> asyncio.Event:
        return self._event

    def publish(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    @staticmethod
    async def wait(token: asyncio.Event, timeout: float) -> bool:
        """True when something was published since ``token`` was taken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(token.wait(), timeout)
        return token.is_set()


class Notifier:
    def __init__(self) -> None:
        self.messages = Signal()
        self.outbox = Signal()
