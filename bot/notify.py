"""Wake-ups: new replies (web chat long polling), new outbox rows (the sender), desk changes (the
agent desk's event stream).

A waiter takes a :meth:`Signal.token` *before* it looks at the database, then waits on it, so a
publish that happens in between is never missed. A publisher calls :meth:`Signal.publish` once
its transaction has committed.

On SQLite (one process) a signal is an in-process event. On PostgreSQL the app may run as several
processes, so a publish also goes out as ``NOTIFY abonent_events, '<signal>'`` and every other
process, which ``LISTEN``s on a dedicated connection (:class:`PostgresRelay`), fires its own copy
of the signal. A lost notification costs only latency: every waiter also times out and re-reads
the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "abonent_events"
# how often an idle listen connection is checked: a half-open TCP connection sends no error
PING_SECONDS = 10.0
QUERY_TIMEOUT = 5.0
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 15.0


class Signal:
    def __init__(self, name: str = "", relay: Callable[[str], None] | None = None) -> None:
        self.name = name
        self._relay = relay
        self._event = asyncio.Event()

    def token(self) -> asyncio.Event:
        return self._event

    def publish(self) -> None:
        """Wake this process's waiters now and (PostgreSQL) the other processes' soon; never
        blocks and never raises."""
        self.fire()
        if self._relay is not None:
            self._relay(self.name)

    def fire(self) -> None:
        """Wake this process's waiters only (a notification from another process)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    @staticmethod
    async def wait(token: asyncio.Event, timeout: float) -> bool:
        """True when something was published since ``token`` was taken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(token.wait(), timeout)
        return token.is_set()


class Notifier:
    """The app's signals; with a relay they reach every process on the same database."""

    def __init__(self, relay: PostgresRelay | None = None) -> None:
        send = relay.send if relay is not None else None
        self.messages = Signal("messages", send)
        self.outbox = Signal("outbox", send)
        self.desk = Signal("desk", send)
        self.relay = relay
        if relay is not None:
            relay.bind(self.fire, self.fire_all, names=tuple(self._signals()))

    @classmethod
    def for_database(cls, url: str) -> Notifier:
        from bot.pg_connect import connect, is_postgres

        return cls(PostgresRelay(lambda: connect(url)) if is_postgres(url) else None)

    def _signals(self) -> dict[str, Signal]:
        return {s.name: s for s in (self.messages, self.outbox, self.desk)}

    def fire(self, name: str) -> None:
        signal = self._signals().get(name)
        if signal is not None:
            signal.fire()

    def fire_all(self) -> None:
        for signal in self._signals().values():
            signal.fire()

    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()


class PostgresRelay:
    """One connection per process that ``LISTEN``s on :data:`CHANNEL` and sends this process's
    ``NOTIFY``s, reconnecting with back-off when it drops.

    Sends are queued (a set of signal names, so a burst of publishes costs one round trip) and
    go out from the relay's own task; while the connection is down they wait for the next one.
    After a reconnect every signal fires here, and is announced to the others, since either
    side may have missed something meanwhile.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        *,
        ping_seconds: float = PING_SECONDS,
        reconnect_min: float = RECONNECT_MIN_SECONDS,
        reconnect_max: float = RECONNECT_MAX_SECONDS,
    ) -> None:
        self._connect = connect
        self._ping_seconds = ping_seconds
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._on_event: Callable[[str], None] = lambda _name: None
        self._on_reconnect: Callable[[], None] = lambda: None
        self._names: tuple[str, ...] = ()
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._own_pid: int | None = None
        self.listening = asyncio.Event()  # set while LISTEN is active (tests and health wait on it)
        self.connections = 0  # successful LISTENs so far

    @property
    def server_pid(self) -> int | None:
        """The backend pid of the current listen connection (None while down)."""
        return self._own_pid if self.listening.is_set() else None

    def bind(self, on_event: Callable[[str], None], on_reconnect: Callable[[], None], *,
             names: tuple[str, ...]) -> None:
        self._on_event, self._on_reconnect, self._names = on_event, on_reconnect, names

    def send(self, name: str) -> None:
        self._pending.add(name)
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notify-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                connection = await self._connect()
            except Exception as exc:  # noqa: BLE001 - the database may be down: retry
                failures += 1
                pause = self._pause(failures)
                log.warning("live updates: cannot connect to PostgreSQL to LISTEN (%s: %s); "
                            "retrying in %.1f s", type(exc).__name__, exc, pause)
                await asyncio.sleep(pause)
                continue
            try:
                await self._serve(connection)
            except Exception as exc:  # noqa: BLE001 - a lost connection: reconnect
                log.warning("live updates: the LISTEN connection failed (%s: %s); reconnecting",
                            type(exc).__name__, exc)
            finally:
                self.listening.clear()
                connection.terminate()
            failures = 1
            await asyncio.sleep(self._pause(failures))

    def _pause(self, failures: int) -> float:
        return float(min(self._reconnect_max, self._reconnect_min * 2 ** max(0, failures - 1)))

    async def _serve(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        self._own_pid = connection.get_server_pid()
        await asyncio.wait_for(connection.add_listener(CHANNEL, self._notified), QUERY_TIMEOUT)
        if self.connections:
            log.info("live updates: listening again")
            self._pending.update(self._names)  # the others may have missed ours
        self.connections += 1
        self.listening.set()
        self._on_reconnect()  # nothing heard while not listening: everyone re-reads
        while not lost.is_set():
            self._wake.clear()
            if self._pending:
                names = sorted(self._pending)
                self._pending.clear()
                try:
                    await asyncio.wait_for(
                        connection.execute("SELECT pg_notify($1, $2)", CHANNEL, ",".join(names)),
                        QUERY_TIMEOUT,
                    )
                except BaseException:
                    self._pending.update(names)  # sent on the next connection
                    raise
                continue
            if not await wait_any((self._wake, lost), self._ping_seconds):
                await asyncio.wait_for(connection.execute("SELECT 1"), QUERY_TIMEOUT)
        raise ConnectionError("the connection was closed")

    def _notified(self, _connection: object, pid: int, _channel: str, payload: str) -> None:
        if pid == self._own_pid:
            return  # this process fired its signal when it published
        for name in payload.split(","):
            try:
                self._on_event(name)
            except Exception:  # a waiter's bug must not kill the listener
                log.exception("live updates: waking %r failed", name)


async def wait_any(events: Iterable[asyncio.Event], timeout: float) -> bool:
    """Wait until one of ``events`` is set or ``timeout`` passes; True when one was set. (The
    one place for it: the outbox, the leader, the listener and the desk's stream use it.)"""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _pending = await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)
    return bool(done)