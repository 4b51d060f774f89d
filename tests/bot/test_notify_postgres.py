"""Wake-ups across app processes over PostgreSQL LISTEN/NOTIFY (bot/notify.py): two notifiers on
two connections stand for two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.notify import Notifier, PostgresRelay, Signal
from bot.pg_connect import connect, connect_kwargs
from tests.support.servers import free_port

pytestmark = pytest.mark.postgres
WAKE = 10.0  # a generous bound for a wake-up that must come; never a speed check


@pytest.fixture
async def notifiers(postgres_url: str) -> AsyncIterator[Callable[[], Notifier]]:
    started: list[Notifier] = []

    def make() -> Notifier:
        notifier = Notifier(PostgresRelay(lambda: connect(postgres_url), reconnect_min=0.1))
        started.append(notifier)
        return notifier

    yield make
    for notifier in started:
        await notifier.stop()


async def listening(*notifiers: Notifier) -> None:
    for notifier in notifiers:
        assert notifier.relay is not None
        await notifier.start()
        await asyncio.wait_for(notifier.relay.listening.wait(), WAKE)


async def terminate_backend(postgres_url: str, pid: int) -> None:
    admin = await asyncpg.connect(**connect_kwargs(postgres_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_publish_in_one_process_wakes_a_waiter_in_another(
    notifiers: Callable[[], Notifier],
) -> None:
    a, b = notifiers(), notifiers()
    await listening(a, b)
    for name in ("messages", "outbox", "desk"):
        here, there = getattr(a, name), getattr(b, name)
        others = [getattr(b, other).token() for other in ("messages", "outbox", "desk")
                  if other != name]
        local, remote = here.token(), there.token()
        here.publish()
        assert local.is_set()  # the publisher's own process at once
        assert await Signal.wait(remote, WAKE), f"{name} did not reach the other process"
        assert not any(token.is_set() for token in others), f"{name} woke other signals"


async def test_the_listener_reconnects_after_its_connection_is_terminated(
    postgres_url: str, notifiers: Callable[[], Notifier],
) -> None:
    a, b = notifiers(), notifiers()
    await listening(a, b)
    assert b.relay is not None and b.relay.server_pid is not None
    waiting = b.messages.token()  # a waiter from before the drop
    await terminate_backend(postgres_url, b.relay.server_pid)
    # back on a new connection; everything fires once, since events may have been missed
    assert await Signal.wait(waiting, WAKE)
    await asyncio.wait_for(b.relay.listening.wait(), WAKE)
    assert b.relay.connections == 2
    token = b.outbox.token()
    a.outbox.publish()
    assert await Signal.wait(token, WAKE)


async def test_a_publish_while_the_publishers_connection_is_down_still_arrives(
    postgres_url: str, notifiers: Callable[[], Notifier],
) -> None:
    a, b = notifiers(), notifiers()
    await listening(a, b)
    assert a.relay is not None and a.relay.server_pid is not None
    await terminate_backend(postgres_url, a.relay.server_pid)
    async with asyncio.timeout(WAKE):  # noticed within a moment: the server closes the socket
        while a.relay.listening.is_set():
            await asyncio.sleep(0.01)
    token = b.desk.token()
    a.desk.publish()  # must neither block nor raise
    assert await Signal.wait(token, WAKE)


async def test_an_unreachable_database_never_reaches_the_publisher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    notifier = Notifier(PostgresRelay(lambda: connect(dead, timeout=1), reconnect_min=0.05))
    await notifier.start()
    try:
        token = notifier.messages.token()
        notifier.messages.publish()
        assert token.is_set()
        for _ in range(200):
            if "cannot connect to PostgreSQL to LISTEN" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert "cannot connect to PostgreSQL to LISTEN" in caplog.text
    finally:
        await notifier.stop()


def test_sqlite_stays_in_process() -> None:
    assert Notifier.for_database("sqlite+aiosqlite:///x.db").relay is None
    assert Notifier.for_database("postgresql://u@h/db").relay is not None
