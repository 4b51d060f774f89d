"""A waiting long poll reads the database when something was published, not on a timer: every
open web chat page holds one, so a read per page per second would be the database's main load
with many pages open. (Within one process the signal is in memory; across processes it is
PostgreSQL's LISTEN/NOTIFY: tests/bot/test_notify_postgres.py, tests/deploy.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.conversations import Conversations
from tests.channels.web.test_sessions import SQLITE, UPDATES, App, chat_app, open_as

pytestmark = SQLITE


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[App]:
    async with chat_app(database_url) as app:
        yield app


async def test_a_quiet_long_poll_reads_once_then_again_only_when_woken(
    running: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    original = Conversations.replies_since

    async def counted(self: Conversations, *args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Conversations, "replies_since", counted)
    app = running
    async with app.client() as http:
        token = await open_as(http, "anna")
        headers = {"X-Webchat-Token": token}
        quiet = await http.get(UPDATES, params={"after": 2**62, "wait": 3.5}, headers=headers)
        assert quiet.status_code == 200 and quiet.json()["replies"] == []
        assert len(reads) == 1, f"{len(reads)} reads in 3.5 s of waiting: one is enough"

        reads.clear()
        poll = asyncio.create_task(
            http.get(UPDATES, params={"after": 2**62, "wait": 3.5}, headers=headers)
        )
        async with asyncio.timeout(10):  # the poll has read once and waits
            while not reads:
                await asyncio.sleep(0.05)
        app.services.notifier.messages.publish()  # something happened: look again
        woken = await poll
        assert woken.status_code == 200
        assert len(reads) == 2
