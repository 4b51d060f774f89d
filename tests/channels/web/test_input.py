"""Bad input to the web chat API: a clear 422, nothing stored, the app keeps serving.

These need no Rasa: NLU points at a closed port, which also shows the honest "NLU down" answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.storage import Message
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port
from tests.support.webchat import WebChatClient


@pytest.fixture
async def app_without_nlu(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    settings = base_settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0,
        nlu_timeout=1.0,
    )
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:
        yield http, app.state.services


async def count_messages(services: object) -> int:
    async with services.db.sessions() as session:  # type: ignore[attr-defined]
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_id": "u1", "text": ""}, "non-empty"),
        ({"user_id": "u1", "text": "   \n "}, "non-empty"),
        ({"user_id": "u1", "text": "x" * 4001}, "at most 4000 characters"),
        ({"user_id": "u1", "text": 123}, "text"),
        ({"user_id": 5, "text": "hi"}, "user_id"),
        ({"text": "hi"}, "user_id"),
        ({"user_id": "", "text": "hi"}, "user_id"),
        ({"user_id": "u1", "text": "hi", "lang": "de"}, "lang"),
        ({"user_id": "u1", "text": ["hi"]}, "text"),
        ([1, 2, 3], "invalid request"),
        # control characters in ids and payloads (found by fuzzing: a 500 on PostgreSQL)
        ({"user_id": "u1", "text": "hi", "message_id": "a\x00b"}, "message_id"),
        ({"user_id": "u1", "payload": "/check_balance\x00"}, "payload"),
    ],
)
async def test_bad_bodies_get_422_and_store_nothing(
    app_without_nlu: tuple[httpx.AsyncClient, object], body: object, expected: str
) -> None:
    http, services = app_without_nlu
    response = await http.post("/api/webchat/messages", json=body)
    assert response.status_code == 422
    assert expected in response.json()["error"]
    assert await count_messages(services) == 0


@pytest.mark.parametrize(
    "query",
    [
        {"user_id": "u\x00", "after": "0"},  # a 500 on PostgreSQL before
        {"user_id": "u1", "after": str(2**63)},  # a 500 on SQLite before (integer overflow)
        {"user_id": "u1", "after": "-1"},
    ],
)
async def test_bad_update_queries_get_422(
    app_without_nlu: tuple[httpx.AsyncClient, object], query: dict[str, str]
) -> None:
    http, _ = app_without_nlu
    response = await http.get("/api/webchat/updates", params={**query, "wait": "0"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "raw", [b"not json at all", b'{"user_id": "u1", "text": ', b"\x00\xff\xfe binary"]
)
async def test_non_json_gets_422(
    app_without_nlu: tuple[httpx.AsyncClient, object], raw: bytes
) -> None:
    http, services = app_without_nlu
    response = await http.post(
        "/api/webchat/messages", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["error"]
    assert await count_messages(services) == 0
    assert (await http.get("/healthz")).status_code == 200


async def test_html_and_control_characters_are_kept_as_text(
    app_without_nlu: tuple[httpx.AsyncClient, object],
) -> None:
    http, services = app_without_nlu
    text = "<script>alert(1)</script>\x00 баланс"
    response = await http.post("/api/webchat/messages", json={"user_id": "u-html", "text": text})
    assert response.status_code == 200
    async with services.db.sessions() as session:  # type: ignore[attr-defined]
        stored = await session.scalar(select(Message.text).where(Message.direction == "in"))
    assert stored == "<script>alert(1)</script> баланс"


async def test_nlu_down_is_answered_honestly_and_goes_to_a_person(
    app_without_nlu: tuple[httpx.AsyncClient, object],
) -> None:
    http, services = app_without_nlu
    question = {"user_id": "u-down", "text": "у меня странная проблема"}  # no keyword knows it
    chat = WebChatClient(http)  # the second message needs the session token of the first
    first = await chat.post(question)
    assert first.status_code == 200
    assert first.json()["state"] == "bot", "one failure does not flood the agents"
    text = " ".join(r["text"] for r in first.json()["replies"])
    assert "+375 29 7770890" in text and "0890" in text
    second = await chat.post(question)
    assert second.json()["state"] == "waiting_agent", "the second failure in a row hands over"
    assert await count_messages(services) >= 4  # the questions are kept, with the answers


async def test_health_and_readiness_say_what_is_missing(
    app_without_nlu: tuple[httpx.AsyncClient, object],
) -> None:
    http, _ = app_without_nlu
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["nlu"].startswith("unreachable")


async def test_the_chat_page_is_served(app_without_nlu: tuple[httpx.AsyncClient, object]) -> None:
    http, _ = app_without_nlu
    page = await http.get("/")
    assert page.status_code == 200
    assert 'maxlength="4000"' in page.text  # WEBCHAT_MAX_TEXT
    script = await http.get("/webchat/assets/chat.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/api/webchat/messages" in script.text
    assert "innerHTML" not in script.text  # subscriber text is only ever set as textContent


async def test_the_text_limit_follows_the_setting(database_url: str) -> None:
    """WEBCHAT_MAX_TEXT: a longer text gets a clear 422 and nothing is stored."""
    settings = base_settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0,
        nlu_timeout=1.0, webchat_max_text=50,
    )
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:
        too_long = await http.post("/api/webchat/messages",
                                   json={"user_id": "u-long", "text": "я" * 51})
        assert too_long.status_code == 422
        assert too_long.json()["error"] == (
            "invalid request: text: String should have at most 50 characters"
        )
        assert await count_messages(app.state.services) == 0
        fits = await http.post("/api/webchat/messages",
                               json={"user_id": "u-long", "text": "я" * 50})
        assert fits.status_code == 200
        assert 'maxlength="50"' in (await http.get("/")).text
