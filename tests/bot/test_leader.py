"""One poller among the app processes (bot/leader.py): two elections on two connections stand
for two processes sharing a PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import APIRouter

from bot.extensions import BackgroundLoop
from bot.leader import LeaderElection, split_loops
from bot.pg_connect import connect, connect_kwargs

WAIT = 20.0  # a generous bound for what must happen; never a speed check


@dataclass
class FakePoller:
    """A poller that says whether it runs now and how often it started."""

    running: bool = False
    starts: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.running, self.starts = True, self.starts + 1
        try:
            await stop.wait()
        finally:
            self.running = False


@dataclass
class Process:
    """One "process": an election running a poller, with its own stop."""

    election: LeaderElection
    poller: FakePoller
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> Process:
        self.task = asyncio.create_task(self.election.run(self.stop))
        return self

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, WAIT)


@pytest.fixture
async def processes(postgres_url: str) -> AsyncIterator[Callable[[], Process]]:
    made: list[Process] = []

    def make() -> Process:
        poller = FakePoller()
        election = LeaderElection(lambda: connect(postgres_url), [poller.run], retry_seconds=0.2,
                                  ping_seconds=0.2)
        made.append(Process(election, poller).start())
        return made[-1]

    yield make
    for process in made:
        await process.halt()


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), WAIT)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT} s: {what}") from None


async def terminate_backend(postgres_url: str, pid: int) -> None:
    admin = await asyncpg.connect(**connect_kwargs(postgres_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def leader_and_follower(make: Callable[[], Process]) -> tuple[Process, Process]:
    first = make()
    await until(lambda: first.poller.running, "the first process leads")
    second = make()
    # the second has asked for the lock several times, and been refused each time
    await until(lambda: second.election.attempts >= 3, "the second process asks")
    assert not second.election.leading.is_set() and second.poller.starts == 0
    assert first.poller.running
    return first, second


async def test_exactly_one_process_runs_the_pollers_and_a_stopped_leader_hands_over(
    processes: Callable[[], Process],
) -> None:
    first, second = await leader_and_follower(processes)
    await first.halt()
    assert not first.poller.running
    await until(lambda: second.poller.running, "the second process takes over")
    assert first.poller.starts == 1


async def test_a_leader_whose_lock_connection_dies_stops_polling_and_the_other_takes_over(
    postgres_url: str, processes: Callable[[], Process],
) -> None:
    first, second = await leader_and_follower(processes)
    assert first.election.server_pid is not None
    await terminate_backend(postgres_url, first.election.server_pid)
    await until(lambda: not first.poller.running, "the old leader stops its poller")
    await until(lambda: second.poller.running, "the other process takes over")
    # the old leader keeps campaigning, but never beside the new one
    attempts = first.election.attempts
    await until(lambda: first.election.attempts >= attempts + 3, "the old leader asks again")
    assert not first.poller.running and first.poller.starts == 1
    # and it leads again, with its poller restarted, when the new leader goes
    await second.halt()
    await until(lambda: first.poller.running, "the first process leads again")
    assert first.election.terms == 2 and first.poller.starts == 2


class _Channel:
    def __init__(self) -> None:
        self.poller, self.worker = FakePoller(), FakePoller()

    def routers(self) -> list[APIRouter]:
        return []

    def background(self) -> list[BackgroundLoop]:
        return [self.worker.run, self.poller.run]

    def pollers(self) -> list[BackgroundLoop]:
        return [self.poller.run]


class _Plain:
    def __init__(self) -> None:
        self.loop = FakePoller()

    def routers(self) -> list[APIRouter]:
        return []

    def background(self) -> list[BackgroundLoop]:
        return [self.loop.run]


def test_pollers_are_taken_out_of_the_loops_every_process_runs() -> None:
    channel, plain = _Channel(), _Plain()
    everywhere, pollers = split_loops([channel, plain])
    assert everywhere == [channel.worker.run, plain.loop.run]
    assert pollers == [channel.poller.run]
