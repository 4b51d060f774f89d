"""One poller among all app processes: Telegram long polling, VK Bots Long Poll and IMAP must
each run once (two Telegram pollers get ``409 Conflict``; two IMAP readers race for the same
mail), however many processes share the database.

On PostgreSQL the process that holds a session-level advisory lock runs the pollers. The lock
lives on a dedicated connection, so when the leader dies its connection drops, PostgreSQL
releases the lock, and another process, retrying every few seconds, takes over. A leader that
loses its lock connection (or cannot ping it) stops its pollers at once: the lock may already
be someone else's. SQLite is one process: it simply runs them (:func:`poller_loops`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from bot.extensions import BackgroundLoop, Extension
from bot.notify import wait_any

log = logging.getLogger(__name__)

# The two-int form of the advisory lock: a key space apart from the one-bigint locks of
# conversations (bot/locks.py), so no conversation's hash can collide with it.
LOCK_CLASS = 0x41424F4E  # "ABON"
POLLERS_LOCK = 1
RETRY_SECONDS = 3.0
PING_SECONDS = 2.0
QUERY_TIMEOUT = 5.0


@runtime_checkable
class Polling(Protocol):
    """An extension some of whose background loops pull from outside and must run in one
    process only (see module doc): ``pollers()`` names them among ``background()``."""

    def pollers(self) -> list[BackgroundLoop]: ...


def split_loops(extensions: list[Extension]) -> tuple[list[BackgroundLoop], list[BackgroundLoop]]:
    """(loops every process runs, pollers only the leader runs)."""
    everywhere: list[BackgroundLoop] = []
    pollers: list[BackgroundLoop] = []
    for extension in extensions:
        own = extension.pollers() if isinstance(extension, Polling) else []
        everywhere += [loop for loop in extension.background() if loop not in own]
        pollers += own
    return everywhere, pollers


class LeaderElection:
    """A background loop: while this process holds the lock, it runs ``loops``."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        loops: list[BackgroundLoop],
        *,
        key: tuple[int, int] = (LOCK_CLASS, POLLERS_LOCK),
        retry_seconds: float = RETRY_SECONDS,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self._connect = connect
        self._loops = loops
        self._key = key
        self._retry = retry_seconds
        self._ping = ping_seconds
        self.leading = asyncio.Event()  # set while this process runs the pollers
        self.terms = 0  # how many times this process became the leader
        self.attempts = 0  # how many times it asked for the lock
        self.server_pid: int | None = None  # the lock connection's backend

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._campaign(stop)
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again
                log.warning("pollers: leader election failed (%s: %s); retrying in %.0f s",
                            type(exc).__name__, exc, self._retry)
            await _wait(stop, self._retry)

    async def _campaign(self, stop: asyncio.Event) -> None:
        """On one connection: try the lock every few seconds; lead while it is held."""
        connection = await self._connect()
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        self.server_pid = connection.get_server_pid()
        try:
            while not stop.is_set() and not lost.is_set():
                self.attempts += 1
                held = await asyncio.wait_for(
                    connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", *self._key),
                    QUERY_TIMEOUT,
                )
                if held:
                    await self._lead(connection, lost, stop)
                    return  # closing the connection below releases the lock
                await wait_any((stop, lost), self._retry)
        finally:
            # terminate, not close: a graceful close could wait on a dead network, and the
            # server drops the session (and the lock) either way
            self.server_pid = None
            connection.terminate()

    async def _lead(self, connection: Any, lost: asyncio.Event, stop: asyncio.Event) -> None:
        self.terms += 1
        self.leading.set()
        log.info("pollers: this process is the leader; starting %d poller(s)", len(self._loops))
        halt = asyncio.Event()
        tasks = [asyncio.create_task(loop(halt)) for loop in self._loops]
        try:
            while not stop.is_set():
                if await wait_any((stop, lost), self._ping):
                    if lost.is_set():
                        log.warning("pollers: lost the leader lock's connection; stopping the "
                                    "pollers (another process may lead now)")
                    return
                try:
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), QUERY_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - any failure: we may not hold it
                    log.warning("pollers: the leader lock's connection does not answer (%s); "
                                "stopping the pollers", type(exc).__name__)
                    return
        finally:
            # at once, not gracefully: another process may already be polling
            halt.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.leading.clear()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
