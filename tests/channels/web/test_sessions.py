"""Web chat sessions (issue #12): a user_id belongs to the browser session that first wrote as
it. The first answer hands out a token (in the body and as an HttpOnly cookie); without it a
later message or poll gets 401, stores nothing and shows nothing. Only a hash is stored.

The NLU points at a closed port and the messages are button payloads: none of this needs Rasa.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.messages import InboundMessage
from bot.services import Services
from bot.storage import Conversation, Database, Identity, Message
from channels.web.api import COOKIE_NAME, TOKEN_HEADER
from channels.web.sessions import SEEN_EVERY, Access, WebChatSessions
from channels.web.tables import WebChatSession
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port
from tests.support.webchat import WebChatClient, without_token

MESSAGES = "/api/webchat/messages"
UPDATES = "/api/webchat/updates"
NOT_YOURS = "this conversation belongs to another browser session; start a new one"
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class App:
    url: str
    services: Services

    def client(self) -> httpx.AsyncClient:
        """A fresh client: its own cookie jar, no tokens."""
        return httpx.AsyncClient(base_url=self.url, timeout=30)

    async def rows(self) -> tuple[int, int, int, int]:
        """Stored messages, conversations, identities and web chat sessions."""
        async with self.services.db.sessions() as session:
            counts = [
                int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for table in (Message, Conversation, Identity, WebChatSession)
            ]
        return counts[0], counts[1], counts[2], counts[3]


@asynccontextmanager
async def chat_app(database_url: str, **overrides: Any) -> AsyncIterator[App]:
    values: dict[str, Any] = {"webchat_rate_per_ip": 0, "webchat_rate_per_user": 0, **overrides}
    settings = base_settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0,
        nlu_timeout=1.0, **values,
    )
    app = create_app(settings)
    async with LiveServer(app) as server:
        yield App(server.url, app.state.services)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    async with chat_app(database_url) as running:
        yield running


def greet(user: str, **extra: Any) -> dict[str, Any]:
    # a button payload: answered without the NLU
    return {"user_id": user, "payload": "/greet", **extra}


async def open_as(http: httpx.AsyncClient, user: str) -> str:
    """Open ``user``'s session from ``http``: the token."""
    response = await http.post(MESSAGES, json=greet(user))
    assert response.status_code == 200, response.text
    return str(response.json()["session_token"])


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert set(response.json()) == {"error"}
    assert NOT_YOURS in response.json()["error"]


async def test_the_first_answer_carries_the_token_and_sets_the_cookie(app: App) -> None:
    async with app.client() as http:
        first = await http.post(MESSAGES, json=greet("anna"))
        assert first.status_code == 200, first.text
        token = first.json()["session_token"]
        assert len(token) >= 43  # secrets.token_urlsafe(32)

        [cookie] = first.headers.get_list("set-cookie")
        name_value, *attributes = [part.strip() for part in cookie.split(";")]
        assert name_value == f"{COOKIE_NAME}={token}"
        flags = {a.split("=", 1)[0].lower(): (a.split("=", 1) + [""])[1] for a in attributes}
        assert flags["path"] == "/api/webchat"
        assert flags["samesite"].lower() == "strict"
        assert "httponly" in flags and "secure" in flags  # Secure unless ABONENT_PLAIN_HTTP
        assert "max-age" not in flags and "expires" not in flags, "a session cookie"
        assert first.headers["Cache-Control"] == "no-store"

        later = await http.post(MESSAGES, json=greet("anna"), headers={TOKEN_HEADER: token})
        assert later.status_code == 200, later.text
        assert "session_token" not in later.json()
        assert "set-cookie" not in later.headers


@SQLITE
async def test_the_cookie_is_not_secure_over_plain_http(database_url: str) -> None:
    async with chat_app(database_url, plain_http=True) as app, app.client() as http:
        first = await http.post(MESSAGES, json=greet("anna"))
        attributes = first.headers["set-cookie"].lower()
        assert "httponly" in attributes and "samesite=strict" in attributes
        assert "secure" not in attributes
        # the client's cookie jar sends it back on its own: no header needed
        assert (await http.post(MESSAGES, json=greet("anna"))).status_code == 200
        assert (await http.get(UPDATES, params={"wait": 0})).status_code == 200


async def test_a_message_without_the_right_token_is_refused_and_not_stored(app: App) -> None:
    async with app.client() as owner, app.client() as stranger:
        token = await open_as(owner, "anna")
        boris_token = await open_as(stranger, "boris")
        before = await app.rows()
        for headers in ({}, {TOKEN_HEADER: "not-a-token"}, {TOKEN_HEADER: token[:-1]},
                        {TOKEN_HEADER: boris_token}, {"Cookie": f"{COOKIE_NAME}={boris_token}"}):
            assert_refused(await stranger.post(MESSAGES, json=greet("anna"), headers=headers))
            assert_refused(await stranger.post(
                MESSAGES, json={"user_id": "anna", "text": "какой у меня баланс"},
                headers=headers,
            ))
        assert await app.rows() == before, "nothing stored from a refused message"
        # the owner still writes
        answer = await owner.post(MESSAGES, json=greet("anna"), headers={TOKEN_HEADER: token})
        assert answer.status_code == 200


async def test_the_header_and_the_cookie_both_work(app: App) -> None:
    async with app.client() as owner, app.client() as by_header, app.client() as by_cookie:
        token = await open_as(owner, "anna")
        via_header = await by_header.post(MESSAGES, json=greet("anna"),
                                          headers={TOKEN_HEADER: token})
        assert via_header.status_code == 200, via_header.text
        via_cookie = await by_cookie.post(MESSAGES, json=greet("anna"),
                                          headers={"Cookie": f"{COOKIE_NAME}={token}"})
        assert via_cookie.status_code == 200, via_cookie.text
        assert via_cookie.json()["conversation_id"] == via_header.json()["conversation_id"]


async def test_updates_need_the_sessions_token(app: App) -> None:
    async with app.client() as anna, app.client() as boris, app.client() as stranger:
        anna_token = await open_as(anna, "anna")
        boris_token = await open_as(boris, "boris")
        no_token = await stranger.get(UPDATES, params={"user_id": "anna", "wait": 0})
        assert no_token.status_code == 401
        assert "send a message first" in no_token.json()["error"]
        assert (await stranger.get(UPDATES, params={"wait": 0})).status_code == 401
        for params, headers in (
            ({"user_id": "anna"}, {TOKEN_HEADER: boris_token}),  # another user's token
            ({"user_id": "anna"}, {"Cookie": f"{COOKIE_NAME}={boris_token}"}),
            ({"user_id": "nobody"}, {TOKEN_HEADER: anna_token}),  # a user_id never seen
            ({"user_id": "nobody"}, {TOKEN_HEADER: "made-up"}),
            ({}, {TOKEN_HEADER: "made-up"}),
        ):
            refused = await stranger.get(UPDATES, params={**params, "wait": 0}, headers=headers)
            assert_refused(refused)
            assert "replies" not in refused.json()

        # with the cookie alone, and no user_id in the URL: the session says whose they are
        greeting = await anna.post(MESSAGES, json=greet("anna"),
                                   headers={TOKEN_HEADER: anna_token})
        ids = {r["id"] for r in greeting.json()["replies"]}
        mine = await stranger.get(UPDATES, params={"wait": 0},
                                  headers={"Cookie": f"{COOKIE_NAME}={anna_token}"})
        assert mine.status_code == 200, mine.text
        assert ids and ids <= {r["id"] for r in mine.json()["replies"]}
        theirs = await stranger.get(UPDATES, params={"wait": 0},
                                    headers={TOKEN_HEADER: boris_token})
        assert theirs.status_code == 200
        assert ids.isdisjoint({r["id"] for r in theirs.json()["replies"]})
        # and with its own user_id
        named = await stranger.get(UPDATES, params={"user_id": "anna", "wait": 0},
                                   headers={TOKEN_HEADER: anna_token})
        assert named.status_code == 200 and named.json() == mine.json()


async def test_only_a_hash_of_the_token_is_stored(app: App) -> None:
    async with app.client() as http:
        token = await open_as(http, "anna")
    async with app.services.db.sessions() as session:
        [row] = (await session.scalars(select(WebChatSession))).all()
    assert row.user_id == "anna"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(row, c.key)) for c in WebChatSession.__table__.columns]
    assert all(token not in value for value in stored)


async def test_two_first_requests_at_once_one_gets_the_session(app: App) -> None:
    async with app.client() as first, app.client() as second:
        answers = await asyncio.gather(
            first.post(MESSAGES, json=greet("anna", message_id="m1")),
            second.post(MESSAGES, json=greet("anna", message_id="m1")),
        )
    assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200)
    assert "session_token" in winner.json()
    messages, _, _, sessions = await app.rows()
    assert sessions == 1
    assert messages == 1 + len(winner.json()["replies"])


async def test_open_gives_a_user_id_out_once(db: Database) -> None:
    sessions = WebChatSessions(db)
    tokens = await asyncio.gather(*(sessions.open("anna") for _ in range(8)))
    assert len([t for t in tokens if t is not None]) == 1
    assert await sessions.open("anna") is None, "the primary key refuses a second session"
    [token] = [t for t in tokens if t is not None]
    assert await sessions.check("anna", token)
    assert not await sessions.check("anna", token + "x")
    assert not await sessions.check("anna", None)
    assert await sessions.access("boris", token) is Access.FREE
    assert await sessions.user_of(token) == "anna"
    assert await sessions.user_of("x" + token) is None


async def test_last_seen_is_written_at_most_once_a_minute(db: Database) -> None:
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    sessions = WebChatSessions(db, clock=lambda: now[0])
    token = await sessions.open("anna")
    assert token is not None

    async def last_seen() -> datetime:
        async with db.sessions() as session:
            value = await session.scalar(select(WebChatSession.last_seen_at))
        assert value is not None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    opened_at = await last_seen()
    now[0] += SEEN_EVERY - timedelta(seconds=1)
    assert await sessions.check("anna", token) and await sessions.user_of(token) == "anna"
    assert await last_seen() == opened_at, "polls within a minute write nothing"
    now[0] += timedelta(seconds=2)
    assert await sessions.user_of(token) == "anna"
    assert await last_seen() == now[0]


async def test_a_repeated_message_id_needs_the_token_too(app: App) -> None:
    async with app.client() as owner, app.client() as stranger:
        token = await open_as(owner, "anna")
        chat = WebChatClient(owner)
        chat.tokens.set("anna", token)
        first = await chat.say("anna", "какой у меня баланс", message_id="m-1")
        before = await app.rows()
        assert_refused(await stranger.post(
            MESSAGES, json={"user_id": "anna", "text": "какой у меня баланс", "message_id": "m-1"}
        ))
        again = await chat.say("anna", "какой у меня баланс", message_id="m-1")
        assert again == without_token(first)
        assert await app.rows() == before


async def test_a_user_id_that_wrote_before_sessions_stays_closed(app: App) -> None:
    # a conversation stored before sessions existed (migration 0010): nobody may claim it now
    await app.services.conversations.receive(InboundMessage(
        channel="webchat", channel_user_id="old-timer", channel_message_id="1", text="привет",
    ))
    before = await app.rows()
    async with app.client() as http:
        assert_refused(await http.post(MESSAGES, json=greet("old-timer")))
    assert await app.rows() == before


@SQLITE
async def test_a_strangers_refused_messages_do_not_use_up_the_owners_allowance(
    database_url: str,
) -> None:
    async with chat_app(database_url, webchat_rate_per_user=2) as app, \
            app.client() as owner, app.client() as stranger:
        chat = WebChatClient(owner)
        await chat.say("anna", payload="/greet")
        for _ in range(5):
            assert (await stranger.post(MESSAGES, json=greet("anna"))).status_code == 401
        assert (await chat.post(greet("anna"))).status_code == 200
        assert (await chat.post(greet("anna"))).status_code == 429


@SQLITE
async def test_the_schema_declares_the_token_and_the_401(app: App) -> None:
    async with app.client() as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    post = paths[MESSAGES]["post"]
    get = paths[UPDATES]["get"]
    for operation in (post, get):
        assert "401" in operation["responses"]
        assert TOKEN_HEADER in {p["name"] for p in operation["parameters"]}
    user_id = next(p for p in get["parameters"] if p["name"] == "user_id")
    assert not user_id.get("required", False)
    answer = paths[MESSAGES]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/WebChatAnswer")
