"""The real app process (polling Telegram) is killed after storing an update and before
answering it; after a restart the subscriber gets exactly one reply."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database
from nlu.server import RasaServer
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.telegram import delivered, new_telegram_user, outbox_rows, stored_messages

pytestmark = pytest.mark.rasa


@pytest.fixture
def app_env(database_url: str, rasa_server: RasaServer, api: FakeBotApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TELEGRAM_") and k != "ABONENT_FAILPOINT"}
    env.update(DATABASE_URL=database_url, RASA_URL=rasa_server.url, RASA_TOKEN=rasa_server.token,
               OUTBOX_POLL="0.2", TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE=api.url)
    return env


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def test_killed_after_storing_an_update_replies_once_after_restart(
    app_env: dict[str, str], api: FakeBotApi, db: Database, tmp_path: Path
) -> None:
    anna, port = new_telegram_user(), free_port()
    update_id = api.enqueue(anna.text("какой у меня баланс"))

    doomed = AppProcess({**app_env, "ABONENT_FAILPOINT": "after_accept"}, port,
                        tmp_path / "doomed.log")
    try:
        code = await asyncio.to_thread(doomed.process.wait, 90)
        assert code == 75, "died at the failpoint, like a kill -9"
    finally:
        doomed.stop()
    [stored] = await stored_messages(db, anna)
    assert (stored.direction, stored.processed_at) == ("in", None), "stored, not answered"
    assert api.sent(anna.id) == []
    assert [u["update_id"] for u in api.pending_updates()] == [update_id], "not acknowledged"

    revived = AppProcess(app_env, port, tmp_path / "revived.log")
    try:
        await api.wait_sent(anna.id, timeout=60)
        await api.wait_for(lambda: api.confirmed_offset > update_id, timeout=30,
                           what="the redelivered update acknowledged")

        await api.wait_for(lambda: delivered(db, anna), timeout=30, what="every reply sent")
        assert len(await stored_messages(db, anna, "in")) == 1, "the redelivery was a duplicate"
        replies = [m.text for m in await stored_messages(db, anna, "out")]
        assert replies and [s.text for s in api.sent(anna.id)] == replies, "each reply once"
        assert "баланс" in replies[0].lower()
        assert {row.status for row in await outbox_rows(db, anna)} == {"sent"}
    finally:
        revived.stop()
