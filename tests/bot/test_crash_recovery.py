"""Kill the real app process between storing a message and answering it, restart it, and check
the reply comes exactly once (and a retried POST gets that same reply)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.storage import Database, Message
from channels.web.api import TOKEN_HEADER
from nlu.server import RasaServer
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.webchat import open_sessions

pytestmark = pytest.mark.rasa


@pytest.fixture
def app_env(database_url: str, rasa_server: RasaServer) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url, RASA_URL=rasa_server.url, RASA_TOKEN=rasa_server.token,
        OUTBOX_POLL="0.2",
    )
    env.pop("ABONENT_FAILPOINT", None)
    yield env


async def test_killed_after_storing_answers_once_after_restart(
    app_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    port, user, message_id = free_port(), f"crash-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    body = {"user_id": user, "text": "какой у меня баланс", "message_id": message_id}

    doomed = AppProcess({**app_env, "ABONENT_FAILPOINT": "after_accept"}, port, tmp_path / "a.log")
    try:
        await doomed.wait_healthy()
        # the session is opened beforehand: a first message that dies takes its token with it
        headers = {TOKEN_HEADER: (await open_sessions(database_url, [user]))[user]}
        async with httpx.AsyncClient(timeout=30) as http:
            with pytest.raises(httpx.HTTPError):
                await http.post(f"{doomed.url}/api/webchat/messages", json=body, headers=headers)
        assert doomed.process.wait(20) == 75  # died at the failpoint, like a kill -9
    finally:
        doomed.stop()

    db = Database(database_url)
    async with db.sessions() as session:
        stored = (await session.scalars(select(Message))).all()
    assert [(m.direction, m.processed_at) for m in stored] == [("in", None)], "stored, unanswered"

    revived = AppProcess(app_env, port, tmp_path / "b.log")
    try:
        await revived.wait_healthy()
        async with httpx.AsyncClient(base_url=revived.url, timeout=30) as http:
            updates = (await http.get("/api/webchat/updates", headers=headers,
                                      params={"user_id": user, "after": 0, "wait": 20})).json()
            assert updates["replies"], "the stored message was answered after the restart"
            retried = (await http.post("/api/webchat/messages", json=body,
                                       headers=headers)).json()
        assert [r["id"] for r in retried["replies"]] == [r["id"] for r in updates["replies"]]
        async with db.sessions() as session:
            outbound = await session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "out")
            )
        assert outbound == len(updates["replies"])
    finally:
        revived.stop()
        await db.close()
