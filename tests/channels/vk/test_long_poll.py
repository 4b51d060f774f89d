"""The Bots Long Poll loop against the fake VK API, with a recording intake and the real cursor
table: ``ts`` is persisted only after its events are stored, a restart resumes from it, and
``failed: 1/2/3``, HTTP and VK errors are survived."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx
import pytest

from bot.cursors import Cursors
from bot.storage import Database
from channels.vk.client import VkClient
from channels.vk.intake import StoreFailed
from channels.vk.long_poll import LongPoller
from tests.channels.vk.events import new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi


class RecordingIntake:
    """Records every batch it is offered; fails the next ``failures`` offers with StoreFailed."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.offered: list[list[str]] = []
        self.stored: list[str] = []

    async def store(self, events: Sequence[Mapping[str, Any]]) -> list[object]:
        ids = [str(event["event_id"]) for event in events]
        self.offered.append(ids)
        if self.failures:
            self.failures -= 1
            raise StoreFailed("OperationalError")
        self.stored.extend(ids)
        return []


Make = Callable[[RecordingIntake], LongPoller]


@pytest.fixture
async def make(
    client: VkClient, vk: FakeVkApi, db: Database
) -> AsyncIterator[Make]:
    """New pollers on one database (a second one is the app after a restart)."""
    made: list[LongPoller] = []

    def poller(intake: RecordingIntake) -> LongPoller:
        made.append(LongPoller(client, intake, Cursors(db),  # type: ignore[arg-type]
                               group_id=vk.group_id, wait=0, secrets=(vk.token,)))
        return made[-1]

    yield poller
    for each in made:
        await each.close()


def enqueue_texts(vk: FakeVkApi, *texts: str) -> list[str]:
    anna = new_vk_user()
    events = [anna.text(text) for text in texts]
    for event in events:
        vk.enqueue(event)
    return [event["event_id"] for event in events]


async def saved(db: Database, loop: LongPoller) -> str | None:
    return await Cursors(db).get(loop.cursor_name)


async def test_the_position_is_saved_only_after_the_batch_is_stored(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    intake = RecordingIntake(failures=1)
    loop = make(intake)
    assert await loop.poll_once() == 0 and intake.offered == [], "started: nothing yet"
    ids = enqueue_texts(vk, "раз", "два", "три")

    assert await loop.poll_once() > 0, "storing failed: pause before offering it again"
    assert intake.stored == [] and await saved(db, loop) in (None, "1")
    polls = len(vk.polls)

    assert await loop.poll_once() == 0
    assert len(vk.polls) == polls, "the same batch was offered again before asking VK"
    assert intake.offered == [ids, ids] and intake.stored == ids
    assert await saved(db, loop) == "4" == loop.ts

    await loop.poll_once()
    assert vk.polls[-1].ts == 4 and intake.stored == ids


async def test_a_restart_resumes_from_the_saved_position(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    first = RecordingIntake()
    before = make(first)
    await before.poll_once()
    [one] = enqueue_texts(vk, "до остановки")
    await before.poll_once()
    assert first.stored == [one] and await saved(db, before) == "2"

    later = enqueue_texts(vk, "пока бот", "не работал")  # VK keeps them for us
    second = RecordingIntake()
    after = make(second)
    assert after.cursor_name == f"vk:long_poll:{vk.group_id}"
    await after.poll_once()
    assert vk.polls[-1].ts == 2, "asked from the saved ts, not from VK's now"
    assert second.stored == later
    assert await saved(db, after) == "4"


async def test_the_first_start_begins_at_vks_now(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    enqueue_texts(vk, "давно, до бота")
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    assert vk.polls[-1].ts == 2 and intake.offered == []


async def test_messages_written_while_a_new_bot_was_down_are_not_lost(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    before = make(RecordingIntake())
    await before.poll_once()  # the first start: no message yet
    await before.poll_once()
    ids = enqueue_texts(vk, "бот перезапускается", "а я пишу")
    intake = RecordingIntake()
    after = make(intake)  # a restart (a deploy, a crash)
    await after.poll_once()
    assert intake.stored == ids


async def test_ignored_and_own_events_are_passed_on_and_the_position_moves_past_them(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    """The intake decides what the bot reads; the long poll offers everything."""
    anna = new_vk_user()
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    events = [anna.in_chat("всем привет"), anna.edit("исправил"),
              anna.callback_press({"cmd": "x"})]
    for event in events:
        vk.enqueue(event)
    await loop.poll_once()
    assert intake.stored == [e["event_id"] for e in events]
    assert await saved(db, loop) == "4"


async def test_history_lost_failed_1_goes_on_from_the_ts_vk_gives(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    lost = enqueue_texts(vk, "раз", "два")
    [kept] = enqueue_texts(vk, "три")
    vk.forget_before(3)
    assert await loop.poll_once() == 0
    assert vk.polls[-1].failed == 1
    assert await saved(db, loop) == "3", "the new ts is saved at once"
    await loop.poll_once()
    assert intake.stored == [kept] and not set(lost) & set(intake.stored)

    vk.fail_next_poll(1)
    assert await loop.poll_once() == 0
    [after] = enqueue_texts(vk, "четыре")
    await loop.poll_once()
    assert intake.stored == [kept, after]


async def test_an_expired_key_failed_2_gets_a_new_key_and_keeps_the_ts(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    ids = enqueue_texts(vk, "вопрос")
    vk.expire_key()
    assert await loop.poll_once() == 0, "no pause: a new key is asked for at once"
    assert vk.polls[-1].failed == 2 and intake.offered == []
    await loop.poll_once()
    assert len(vk.calls("groups.getLongPollServer")) == 2
    assert vk.polls[-1].ts == 1 and vk.polls[-1].key != vk.polls[-2].key
    assert intake.stored == ids, "nothing was lost"


async def test_key_and_history_lost_failed_3_starts_from_vks_now(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    enqueue_texts(vk, "это VK потерял")
    vk.fail_next_poll(3)
    assert await loop.poll_once() == 0
    assert vk.polls[-1].failed == 3
    await loop.poll_once()
    assert len(vk.calls("groups.getLongPollServer")) == 2
    assert vk.polls[-1].ts == 2 == vk.current_ts
    assert await saved(db, loop) == "2", "the fresh ts is saved, not the old one"
    ids = enqueue_texts(vk, "а это дойдёт")
    await loop.poll_once()
    assert intake.stored == ids


async def test_a_restart_after_failed_3_does_not_go_back_to_the_old_ts(
    vk: FakeVkApi, db: Database, make: Make
) -> None:
    loop = make(RecordingIntake())
    await loop.poll_once()
    enqueue_texts(vk, "раз")
    await loop.poll_once()
    assert await saved(db, loop) == "2"
    enqueue_texts(vk, "два")
    vk.fail_next_poll(3)
    await loop.poll_once()
    await loop.poll_once()
    assert await saved(db, loop) == "3"
    intake = RecordingIntake()
    await make(intake).poll_once()
    assert vk.polls[-1].ts == 3 and intake.offered == []


@pytest.mark.parametrize(("status", "body"), [(500, None), (502, None),
                                              (200, "<html>not json</html>"),
                                              (200, '{"updates": []}'), (200, "[1, 2]")])
async def test_long_poll_failures_back_off_and_polling_goes_on(
    vk: FakeVkApi, db: Database, make: Make, caplog: pytest.LogCaptureFixture,
    status: int, body: str | None,
) -> None:
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    ids = enqueue_texts(vk, "вопрос")
    vk.fail_next("lp", http_status=status, body=body, times=2)
    with caplog.at_level(logging.INFO, logger="channels.vk"):
        first, second = await loop.poll_once(), await loop.poll_once()
        assert 1 <= first <= 2 and 2 <= second <= 4, "exponential back-off with jitter"
        assert await loop.poll_once() == 0
    assert intake.stored == ids
    assert await saved(db, loop) == "2"
    key = vk.polls[-1].key
    assert "long poll" in caplog.text or "long-poll" in caplog.text
    assert key not in caplog.text and vk.token not in caplog.text, "no key or token in a log"


async def test_a_long_poll_that_never_answers_in_time_is_an_error_not_a_hang(
    vk: FakeVkApi, client: VkClient, db: Database
) -> None:
    intake = RecordingIntake()
    loop = LongPoller(client, intake, Cursors(db), group_id=vk.group_id,  # type: ignore[arg-type]
                      wait=0, secrets=(vk.token,))
    loop._http.timeout = httpx.Timeout(0.3)  # a short fuse instead of wait + 10 s
    try:
        await loop.poll_once()
        vk.slow("lp", 1.0)
        assert await loop.poll_once() > 0
        vk.slow("lp", 0)
        ids = enqueue_texts(vk, "вопрос")
        await loop.poll_once()
        assert intake.stored == ids
    finally:
        stopped = asyncio.Event()
        stopped.set()
        await loop.run(stopped)


@pytest.mark.parametrize("fault", [{"error_code": 10}, {"error_code": 5},
                                   {"http_status": 502}, {"body": "{}"}])
async def test_vk_errors_when_asking_for_a_server_back_off(
    vk: FakeVkApi, db: Database, make: Make, caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any],
) -> None:
    vk.fail_next("groups.getLongPollServer", **fault)
    intake = RecordingIntake()
    loop = make(intake)
    with caplog.at_level(logging.INFO, logger="channels.vk"):
        assert await loop.poll_once() > 0
    assert vk.polls == [], "no long poll without a server"
    assert vk.token not in caplog.text
    assert await loop.poll_once() == 0
    ids = enqueue_texts(vk, "вопрос")
    await loop.poll_once()
    assert intake.stored == ids


async def test_a_failure_to_save_the_position_offers_the_batch_again(
    vk: FakeVkApi, db: Database, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored but not saved (the database blinked): the batch comes again; the core would
    recognise the duplicates."""
    intake = RecordingIntake()
    loop = make(intake)
    await loop.poll_once()
    ids = enqueue_texts(vk, "вопрос")
    calls = 0
    real_put = Cursors.put

    async def put_failing_once(self: Cursors, name: str, value: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database is down")
        await real_put(self, name, value)

    monkeypatch.setattr(Cursors, "put", put_failing_once)
    assert await loop.poll_once() > 0
    assert await saved(db, loop) in (None, "1"), "not moved past the batch"
    assert await loop.poll_once() == 0
    assert intake.offered == [ids, ids]
    assert await saved(db, loop) == "2"


async def test_run_polls_until_stopped(
    vk: FakeVkApi, client: VkClient, db: Database
) -> None:
    intake = RecordingIntake()
    loop = LongPoller(client, intake, Cursors(db), group_id=vk.group_id,  # type: ignore[arg-type]
                      wait=1)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await vk.wait_for(lambda: vk.held_polls, what="a held long poll")
        ids = enqueue_texts(vk, "раз", "два")
        await vk.wait_for(lambda: intake.stored == ids, what="both stored")
        await vk.wait_for(lambda: saved(db, loop), what="the position saved")
        assert await saved(db, loop) == "3"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await loop.close()


async def test_a_stopped_poller_polls_again_when_run_again(
    vk: FakeVkApi, client: VkClient, db: Database
) -> None:
    """A process that loses the polling leadership (bot/leader.py) and later regains it runs
    the same poller again: its HTTP client must still be open."""
    intake = RecordingIntake()
    loop = LongPoller(client, intake, Cursors(db), group_id=vk.group_id,  # type: ignore[arg-type]
                      wait=1)
    try:
        for text in ("до", "после"):
            stop = asyncio.Event()
            task = asyncio.create_task(loop.run(stop))
            try:
                await vk.wait_for(lambda: vk.held_polls, what="a held long poll")
                ids = enqueue_texts(vk, text)
                await vk.wait_for(lambda ids=ids: intake.stored[-1:] == ids, what="stored")
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
    finally:
        await loop.close()
