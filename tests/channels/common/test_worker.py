"""The background worker: one pass per conversation at a time, chats in parallel, retries, and
no chat can take the slots the others need."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from channels.common.worker import ConversationWorker


class SlowConversations:
    """Records passes; each pass waits until the test lets it finish. Like the real one, it lets
    one pass per conversation run at a time (the others wait for its lock)."""

    def __init__(self, *, failures: int = 0) -> None:
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.passes: list[str] = []
        self.running: set[str] = set()
        self.most_at_once = 0
        self.release = asyncio.Event()
        self.failures = failures

    async def process(self, conversation_id: str) -> None:
        async with self.locks[conversation_id]:
            await self._pass(conversation_id)

    async def _pass(self, conversation_id: str) -> None:
        self.passes.append(conversation_id)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database blinked")
        self.running.add(conversation_id)
        self.most_at_once = max(self.most_at_once, len(self.running))
        await self.release.wait()
        self.running.discard(conversation_id)


async def test_a_conversation_waiting_to_start_is_not_scheduled_twice() -> None:
    conversations = SlowConversations()
    worker = ConversationWorker(conversations, concurrency=1)  # type: ignore[arg-type]
    for conversation_id in ("a", "b", "b", "b"):
        worker.submit(conversation_id)
    conversations.release.set()
    await worker.idle()
    assert conversations.passes == ["a", "b"]


async def test_different_conversations_run_concurrently() -> None:
    conversations = SlowConversations()
    worker = ConversationWorker(conversations)  # type: ignore[arg-type]
    for conversation_id in ("a", "b", "c"):
        worker.submit(conversation_id)
    await asyncio.wait_for(_until(lambda: len(conversations.running) == 3), 5)
    conversations.release.set()
    await worker.idle()
    assert conversations.most_at_once == 3


async def test_a_failed_pass_is_tried_again() -> None:
    conversations = SlowConversations(failures=2)
    conversations.release.set()
    worker = ConversationWorker(conversations, retry_delays=(0.01, 0.01))  # type: ignore[arg-type]
    worker.submit("a")
    await worker.idle()
    assert conversations.passes == ["a", "a", "a"]


async def test_a_busy_chat_takes_one_slot_however_many_messages_it_sends() -> None:
    conversations = SlowConversations()
    worker = ConversationWorker(conversations, concurrency=2)  # type: ignore[arg-type]
    worker.submit("busy")
    await asyncio.wait_for(_until(lambda: conversations.running == {"busy"}), 5)
    for _ in range(5):  # its messages keep coming while its pass runs
        worker.submit("busy")
    worker.submit("quiet")
    await asyncio.wait_for(_until(lambda: "quiet" in conversations.running), 5)
    conversations.release.set()
    await worker.idle()
    assert conversations.passes == ["busy", "quiet", "busy"], "one more pass sees the new ones"


async def test_a_failed_pass_waits_for_its_retry_without_a_slot() -> None:
    conversations = SlowConversations(failures=1)
    conversations.release.set()
    worker = ConversationWorker(conversations, concurrency=1,  # type: ignore[arg-type]
                                retry_delays=(60.0,))
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    worker.submit("failing")
    worker.submit("other")
    await asyncio.wait_for(_until(lambda: conversations.passes == ["failing", "other"]), 5)
    stop.set()
    await asyncio.wait_for(loop, 5)


async def test_stopping_cancels_what_is_still_running() -> None:
    conversations = SlowConversations()
    worker = ConversationWorker(conversations)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    worker.submit("a")
    await asyncio.wait_for(_until(lambda: conversations.running == {"a"}), 5)
    stop.set()
    await asyncio.wait_for(loop, 5)
    await asyncio.wait_for(worker.idle(), 5)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
