"""The polling loop acknowledges an update (moves the getUpdates offset past it) only after it
was stored, and survives every kind of getUpdates failure. The intake here only records."""

from __future__ import annotations

import logging

import pytest
from aiogram import Bot
from aiogram.types import Update

from channels.telegram.intake import Stored
from channels.telegram.polling import Poller
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import TelegramUser

anna = TelegramUser(5001)
boris = TelegramUser(5002, "Boris")


class RecordingIntake:
    """Stores every update except the ones told to fail (once), and edits (ignored)."""

    def __init__(self, *, fail_once: set[int] | None = None) -> None:
        self.fail_once = set(fail_once or ())
        self.stored: list[int] = []
        self.dispatched: list[int] = []
        self.events: list[str] = []

    async def store(self, update: Update) -> Stored | None:
        if update.update_id in self.fail_once:
            self.fail_once.discard(update.update_id)
            raise ConnectionError("the database is down")
        if update.edited_message is not None:
            return None
        self.stored.append(update.update_id)
        self.events.append(f"store {update.update_id}")
        return Stored(update.update_id, f"conversation-{update.update_id}", duplicate=False)

    def dispatch(self, stored: Stored) -> None:
        assert stored.update_id in self.stored, "dispatched only after it was stored"
        self.dispatched.append(stored.update_id)
        self.events.append(f"dispatch {stored.update_id}")


def poller(bot: Bot, intake: RecordingIntake) -> Poller:
    return Poller(bot, intake, timeout=0)  # type: ignore[arg-type]


async def test_updates_are_acknowledged_only_after_they_are_stored(
    api: FakeBotApi, bot: Bot
) -> None:
    ids = [api.enqueue(anna.text(t)) for t in ("раз", "два", "три")]
    intake = RecordingIntake(fail_once={ids[1]})
    loop = poller(bot, intake)

    assert await loop.poll_once() > 0, "storing failed half-way: pause before asking again"
    assert intake.stored == ids[:1] and loop.offset == ids[0] + 1
    assert api.confirmed_offset == 0, "nothing acknowledged yet"

    assert await loop.poll_once() == 0
    assert api.confirmed_offset == ids[0] + 1, "the stored update is acknowledged..."
    assert intake.stored == ids, "...and the unstored ones are delivered again"

    await loop.poll_once()
    assert api.confirmed_offset == ids[2] + 1 and api.pending_updates() == []
    assert intake.dispatched == ids


async def test_a_flooding_chat_does_not_hold_up_the_others_in_a_batch(
    api: FakeBotApi, bot: Bot
) -> None:
    flood = [api.enqueue(anna.text(f"спам {n}")) for n in range(5)]
    other = api.enqueue(boris.text("вопрос"))
    intake = RecordingIntake()
    loop = poller(bot, intake)
    assert await loop.poll_once() == 0
    assert intake.stored == [flood[0], other, *flood[1:]], "senders take turns, each in order"
    assert intake.events[:4] == [f"store {flood[0]}", f"dispatch {flood[0]}",
                                 f"store {other}", f"dispatch {other}"], \
        "each is answered as soon as it is stored, not after the whole batch"
    assert loop.offset == other + 1
    await loop.poll_once()
    assert api.confirmed_offset == other + 1 and api.pending_updates() == []


async def test_a_failure_in_a_reordered_batch_acknowledges_only_what_precedes_it(
    api: FakeBotApi, bot: Bot
) -> None:
    first, second = api.enqueue(anna.text("раз")), api.enqueue(anna.text("два"))
    other = api.enqueue(boris.text("вопрос"))
    intake = RecordingIntake(fail_once={second})
    loop = poller(bot, intake)
    assert await loop.poll_once() > 0
    assert intake.stored == [first, other] and loop.offset == second
    await loop.poll_once()
    assert intake.stored == [first, other, second, other], "the later one comes again..."
    assert intake.dispatched == [first, other, second, other], "...and is a harmless duplicate"


async def test_ignored_updates_are_acknowledged_too(api: FakeBotApi, bot: Bot) -> None:
    edit = api.enqueue(anna.edited(1, "исправил"))
    text = api.enqueue(anna.text("привет"))
    intake = RecordingIntake()
    loop = poller(bot, intake)
    await loop.poll_once()
    await loop.poll_once()
    assert intake.dispatched == [text]
    assert api.confirmed_offset == text + 1 > edit


async def test_it_asks_only_for_the_update_types_it_reads(api: FakeBotApi, bot: Bot) -> None:
    await poller(bot, RecordingIntake()).poll_once()
    params = api.calls("getUpdates")[-1].params
    assert params["allowed_updates"] == ["message", "callback_query"]


async def test_flood_control_on_get_updates_waits_as_told(api: FakeBotApi, bot: Bot) -> None:
    api.fail_next("getUpdates", 429, retry_after=4)
    assert await poller(bot, RecordingIntake()).poll_once() == 4.0


@pytest.mark.parametrize(("status", "body"), [(500, None), (502, "<html>nginx</html>")])
async def test_server_errors_back_off_and_polling_goes_on(
    api: FakeBotApi, bot: Bot, status: int, body: str | None
) -> None:
    update_id = api.enqueue(anna.text("привет"))
    api.fail_next("getUpdates", status, times=2, body=body)
    intake = RecordingIntake()
    loop = poller(bot, intake)
    first, second = await loop.poll_once(), await loop.poll_once()
    assert 0 < first <= 2 and 0 < second <= 4, "exponential back-off"
    assert await loop.poll_once() == 0
    assert intake.dispatched == [update_id]


async def test_a_webhook_in_the_way_is_explained(
    api: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.set_webhook(url="https://elsewhere.example.test/hook")
    with caplog.at_level(logging.ERROR, logger="channels.telegram.polling"):
        assert await poller(bot, RecordingIntake()).poll_once() > 0
    assert "abonent telegram delete-webhook" in caplog.text
