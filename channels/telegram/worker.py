"""Answers stored updates in the background, so acknowledging Telegram never waits for NLU.

``submit(conversation_id)`` schedules ``Conversations.process`` for that conversation: it
answers every stored, unanswered message of the conversation in order, under the core's
per-conversation lock, so two chats run concurrently while one chat stays in order. A
conversation already waiting to start is not scheduled twice. Whatever is still unanswered when
the process stops is answered by ``Conversations.recover`` at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from bot.conversations import Conversations

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 5.0, 30.0)  # a failed pass (e.g. the database blinked) is tried again


class ConversationWorker:
    def __init__(
        self,
        conversations: Conversations,
        *,
        concurrency: int = 16,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self._conversations = conversations
        self._retry_delays = retry_delays
        self._slots = asyncio.Semaphore(concurrency)
        self._queued: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, conversation_id: str) -> None:
        if conversation_id in self._queued:
            return
        self._queued.add(conversation_id)
        self.spawn(self._process(conversation_id))

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run a side job (e.g. answering a callback query) until it ends or the app stops."""
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every scheduled job has finished (for tests and a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        """The background loop: holds the jobs while the app runs, cancels them when it stops."""
        try:
            await stop.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _process(self, conversation_id: str) -> None:
        async with self._slots:
            self._queued.discard(conversation_id)  # from here on, new messages are seen
            for delay in (*self._retry_delays, None):
                try:
                    await self._conversations.process(conversation_id)
                    return
                except Exception:
                    if delay is None:
                        log.exception("conversation %s: giving up until the next message or "
                                      "restart", conversation_id)
                        return
                    log.exception("conversation %s failed; retrying in %.0f s",
                                  conversation_id, delay)
                    await asyncio.sleep(delay)
