"""Answers stored updates in the background, so acknowledging Telegram never waits for NLU.

``submit(conversation_id)`` schedules ``Conversations.process`` for that conversation: it
answers every stored, unanswered message of the conversation in order, under the core's
per-conversation lock, so two chats run concurrently while one chat stays in order.

One busy chat must not starve the others, so a conversation has at most one job at a time: a
``submit`` while its job waits or runs only asks that job for one more pass (the running pass
may have looked for new messages just before this one was stored). A second job would only
take a concurrency slot to wait for the first one's lock, and a chat sending a message per
``getUpdates`` round would soon hold every slot while its own backlog is answered. For the same
reason a failed pass waits for its retry without a slot. Whatever is still unanswered when the
process stops is answered by ``Conversations.recover`` at the next start.
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
        self._slots = asyncio.Semaphore(concurrency)  # bounds NLU and database load
        self._jobs: set[str] = set()  # conversations with a job, waiting or running
        self._again: set[str] = set()  # ... that got a message since their pass began
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, conversation_id: str) -> None:
        if conversation_id in self._jobs:
            self._again.add(conversation_id)
            return
        self._jobs.add(conversation_id)
        self.spawn(self._job(conversation_id))

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

    async def _job(self, conversation_id: str) -> None:
        try:
            await self._pass(conversation_id)
            while conversation_id in self._again:
                await self._pass(conversation_id)
        finally:  # no await between the last look at _again and this: no submit is lost
            self._jobs.discard(conversation_id)
            self._again.discard(conversation_id)

    async def _pass(self, conversation_id: str) -> None:
        """One pass, tried again after a failure; after the last failure a new message (or
        the recovery sweep) tries again."""
        for delay in (*self._retry_delays, None):
            async with self._slots:
                self._again.discard(conversation_id)  # from here on, new messages are seen
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
            await asyncio.sleep(delay)  # without a slot: other chats go on meanwhile
