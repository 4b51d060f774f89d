"""Proof under faults (issue #8): with Rasa down, the real app still answers every message within
5 s, understands commands, buttons and plain keywords, is honest about the rest, and hands a
subscriber to a person only when asked or after their second failure — not on the first.

Rasa is down in three ways: nothing listens on its port (connection refused), a server accepts
the connection and never answers (tests/support/silent_server.py), and a server answers every
request with HTTP 500 (tests/support/fake_rasa.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.services import Services
from tests.support.app import base_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.servers import LiveServer, free_port
from tests.support.silent_server import SilentServer

PROMISE = 5.0  # seconds: the number, generous for a loaded 2-core machine
NUMBERS = ("0890", "*7777", "8 017 237-98-98", "+375 29 7770890")
GIBBERISH = ("ывапр олдж", "щшгнек ъхзщ")


@pytest.fixture(scope="module")
def failing_rasa() -> Iterator[FakeRasa]:
    with FakeRasa(token="t") as rasa:
        yield rasa


@pytest.fixture(params=["refused", "hanging", "http-500"])
async def rasa_down_url(
    request: pytest.FixtureRequest, failing_rasa: FakeRasa
) -> AsyncIterator[str]:
    if request.param == "refused":
        yield f"http://127.0.0.1:{free_port()}"
    elif request.param == "hanging":
        async with SilentServer() as silent:
            yield silent.url
    else:
        failing_rasa.reset()
        failing_rasa.fail_next(100_000, 500)
        yield failing_rasa.url


@dataclass
class Chat:
    """A web chat client that times every answer."""

    http: httpx.AsyncClient
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)
    slowest: float = 0.0

    async def send(self, user_id: str, **body: Any) -> dict[str, Any]:
        headers = {"X-Webchat-Token": self.tokens[user_id]} if user_id in self.tokens else {}
        started = time.monotonic()
        response = await self.http.post(
            "/api/webchat/messages", json={"user_id": user_id, **body}, headers=headers
        )
        took = time.monotonic() - started
        self.slowest = max(self.slowest, took)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        if "session_token" in answer:
            self.tokens[user_id] = answer["session_token"]
        assert answer["replies"], f"no answer to {body}"
        assert took < PROMISE, f"{body} was answered after {took:.1f} s"
        return answer


@pytest.fixture
async def chat(database_url: str, rasa_down_url: str) -> AsyncIterator[Chat]:
    settings = base_settings(
        database_url=database_url,
        rasa_url=rasa_down_url,
        webchat_max_open_handoffs_per_ip=0,  # several subscribers escalate from 127.0.0.1
    )
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield Chat(http, app.state.services)


def text_of(answer: dict[str, Any]) -> str:
    return "\n".join(reply["text"] for reply in answer["replies"])


def payloads_of(answer: dict[str, Any]) -> list[str]:
    return [b["payload"] for reply in answer["replies"] for b in reply["buttons"]]


async def test_every_message_is_answered_in_time_and_only_the_second_failure_escalates(
    chat: Chat,
) -> None:
    # a plain keyword: the balance article, though Rasa is down
    answer = await chat.send("alice", text="какой у меня баланс")
    assert "*100#" in text_of(answer) and answer["state"] == "bot"

    # a command and a button need no NLU
    answer = await chat.send("alice", text="/help")
    assert answer["state"] == "bot" and payloads_of(answer)
    answer = await chat.send("alice", text="/my_number", payload="/my_number")
    assert "*120#" in text_of(answer) and answer["state"] == "bot"

    # the first message nobody understands: honest, the numbers, buttons, no escalation
    answer = await chat.send("alice", text=GIBBERISH[0])
    text = text_of(answer)
    assert all(number in text for number in NUMBERS), text
    assert "не могу разобрать" in text
    assert "/human_request" in payloads_of(answer) and "/check_balance" in payloads_of(answer)
    assert answer["state"] == "bot"

    # the second in a row: now a person takes over
    answer = await chat.send("alice", text=GIBBERISH[1])
    assert answer["state"] == "waiting_agent"
    assert all(number in text_of(answer) for number in NUMBERS)

    # another subscriber's first failure is theirs alone: no escalation
    answer = await chat.send("bob", text=GIBBERISH[0])
    assert answer["state"] == "bot"

    # by now the breaker is open: later messages cost no request to Rasa at all
    nlu = chat.services.nlu
    assert nlu.breaker is not None and nlu.breaker.state == "open"
    sent = nlu.http_requests
    answer = await chat.send("erin", text=GIBBERISH[1])
    assert answer["state"] == "bot" and nlu.http_requests == sent

    # keywords know the knowledge base's countries: the roaming answer for Turkey
    answer = await chat.send("frank", text="роуминг в Турции")
    assert "Турц" in text_of(answer) and answer["state"] == "bot"


async def test_asking_for_a_person_escalates_at_once(chat: Chat) -> None:
    asks = {
        "a command": {"text": "/operator"},
        "a button": {"text": "Связаться с сотрудником", "payload": "/human_request"},
        "a keyword": {"text": "позовите оператора"},
        "a Belarusian keyword": {"text": "аператар"},
    }
    for user_id, (why, body) in enumerate(asks.items()):
        answer = await chat.send(f"carol-{user_id}", **body)
        assert answer["state"] == "waiting_agent", why


async def test_readiness_says_the_nlu_is_down_in_time(chat: Chat) -> None:
    started = time.monotonic()
    response = await chat.http.get("/readyz")
    took = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["nlu"] != "ok"
    assert took < PROMISE, f"/readyz took {took:.1f} s"
