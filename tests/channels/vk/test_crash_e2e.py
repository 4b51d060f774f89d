"""The real app process (Bots Long Poll) is killed after storing an event and before answering
it. VK has no acknowledgement: only the ``ts`` the app saved says how far it got, so after a
restart the long poll resumes from it, the event the app died on is a harmless duplicate, the
events behind it are not lost, and the subscriber gets exactly one reply."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

import pytest

from bot.cursors import Cursors
from bot.storage import Database
from nlu.server import RasaServer
from tests.channels.vk.events import new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi
from tests.support import channel_db
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.vk import running_vk_app, vk_env

pytestmark = pytest.mark.rasa


@pytest.fixture
def app_env(database_url: str, rasa_server: RasaServer, vk: FakeVkApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VK_", "TELEGRAM_")) and k != "ABONENT_FAILPOINT"}
    env.update(DATABASE_URL=database_url, RASA_URL=rasa_server.url, RASA_TOKEN=rasa_server.token,
               OUTBOX_POLL="0.2", **vk_env(vk))
    return env


async def saved_ts(db: Database, vk: FakeVkApi) -> int | None:
    value = await Cursors(db).get(f"vk:long_poll:{vk.group_id}")
    return int(value) if value is not None else None


async def die_at_the_failpoint(env: dict[str, str], port: int, log: Path) -> None:
    doomed = AppProcess({**env, "ABONENT_FAILPOINT": "after_accept"}, port, log)
    try:
        code = await asyncio.to_thread(doomed.process.wait, 90)
        assert code == 75, f"died at the failpoint, like a kill -9:\n{doomed.log_tail()}"
    finally:
        doomed.stop()


async def test_killed_after_storing_an_event_replies_once_and_resumes_from_the_saved_ts(
    app_env: dict[str, str], database_url: str, rasa_server: RasaServer, vk: FakeVkApi,
    db: Database, tmp_path: Path,
) -> None:
    anna, boris, port = new_vk_user(), new_vk_user("Борис"), free_port()
    async with running_vk_app(database_url, rasa_server, vk) as earlier:  # an earlier run
        vk.enqueue(boris.text("/help"))
        await vk.wait_sent(boris.user_id, timeout=30)
        await vk.wait_for(lambda: earlier.delivered(boris), what="Boris served")
        await vk.wait_for(lambda: _read_all(db, vk), what="every event read")
    position = await saved_ts(db, vk)
    assert position is not None

    first = vk.enqueue(anna.text("какой у меня баланс"))  # written while the bot is down
    behind = vk.enqueue(boris.text("/start"))
    assert first == position, "the saved ts is where the new events start"
    polls = len(vk.polls)
    await die_at_the_failpoint(app_env, port, tmp_path / "doomed.log")

    assert vk.polls[polls].ts == position, "the dying run resumed from the saved ts"
    [stored] = await channel_db.stored_messages(db, "vk", str(anna.user_id))
    assert (stored.direction, stored.processed_at) == ("in", None), "stored, not answered"
    assert [m.text for m in await channel_db.stored_messages(db, "vk", str(boris.user_id),
                                                             "in")] == ["/help"]
    assert vk.sent(anna.user_id) == []
    assert await saved_ts(db, vk) == position, "not moved past what was not stored"

    polls = len(vk.polls)
    revived = AppProcess(app_env, port, tmp_path / "revived.log")
    try:
        await vk.wait_sent(anna.user_id, timeout=60)
        [_, greeting] = await vk.wait_sent(boris.user_id, 2, timeout=30)
        assert greeting.text.startswith("Здравствуйте"), "the event behind was not lost"
        assert vk.polls[polls].ts == position, "the restart asked VK again from the saved ts"
        for user in (anna, boris):
            await vk.wait_for(functools.partial(channel_db.delivered, db, "vk",
                                                str(user.user_id)),
                              timeout=30, what="every reply sent")
        assert len(await channel_db.stored_messages(db, "vk", str(anna.user_id), "in")) == 1, \
            "the event delivered again was a duplicate"
        replies = [m.text for m in await channel_db.stored_messages(
            db, "vk", str(anna.user_id), "out")]
        assert replies and [s.text for s in vk.sent(anna.user_id)] == replies, "each reply once"
        assert "баланс" in replies[0].lower()
        assert {row.status for row in await channel_db.outbox_rows(
            db, "vk", str(anna.user_id))} == {"sent"}
        ts = await saved_ts(db, vk)
        assert ts is not None and ts > behind
    finally:
        revived.stop()


async def _read_all(db: Database, vk: FakeVkApi) -> bool:
    ts = await saved_ts(db, vk)
    return ts is not None and ts >= vk.current_ts


async def test_a_new_bot_killed_on_its_first_message_loses_nothing(
    app_env: dict[str, str], vk: FakeVkApi, db: Database, tmp_path: Path
) -> None:
    anna, boris, port = new_vk_user(), new_vk_user("Борис"), free_port()
    doomed = AppProcess({**app_env, "ABONENT_FAILPOINT": "after_accept"}, port,
                        tmp_path / "doomed.log")
    try:
        await vk.wait_for(lambda: vk.held_polls or doomed.process.poll() is not None,
                          timeout=60, what="the new bot polling")
        first = vk.enqueue(anna.text("какой у меня баланс"))
        vk.enqueue(boris.text("/start"))
        code = await asyncio.to_thread(doomed.process.wait, 60)
        assert code == 75, f"died at the failpoint:\n{doomed.log_tail()}"
    finally:
        doomed.stop()

    polls = len(vk.polls)
    revived = AppProcess(app_env, port, tmp_path / "revived.log")
    try:
        await vk.wait_sent(anna.user_id, timeout=60)  # the stored one: recovered at start
        await vk.wait_for(lambda: len(vk.polls) > polls, timeout=30, what="polling again")
        assert vk.polls[polls].ts == first, "resumed where the dead run started"
        await vk.wait_sent(boris.user_id, timeout=20)
    finally:
        revived.stop()
