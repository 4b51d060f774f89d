"""The web chat API end to end (real app on loopback, real database, a fake Rasa): message ids
are the client's own, unique per user, and a message that keeps failing gets an honest answer
and a person instead of a wedged conversation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import create_app
from bot.policy import ConversationView, Decision, Turn
from bot.services import Services
from bot.storage import Message
from knowledge_base import PhraseKey
from tests.support.app import base_settings
from tests.support.fake_rasa import FakeAnswer, FakeRasa
from tests.support.servers import LiveServer
from tests.support.webchat import WebChatClient, without_token

POISON = "сломай меня 8029-123-45-67"
LONGEST = 128  # channels/web/schemas.py MAX_ID


@dataclass
class WebChat:
    """A web chat client: posts as the page does and keeps each user's session token."""

    http: httpx.AsyncClient
    services: Services
    decided: list[str]
    client: WebChatClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = WebChatClient(self.http)

    async def say(self, user_id: str, text: str, **extra: object) -> dict[str, Any]:
        return await self.client.say(user_id, text, **extra)

    async def inbound(self, conversation_id: str) -> list[Message]:
        async with self.services.db.sessions() as session:
            rows = await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id,
                                      Message.direction == "in").order_by(Message.id)
            )
            return list(rows.all())


def poisoned(services: Services, decided: list[str]) -> Services:
    """The real services, with a policy that raises for one text (a bug that always repeats)."""
    decide: Callable[..., Decision] = services.policy.decide

    def decide_or_raise(convo: ConversationView, turn: Turn, *rest: Any) -> Decision:
        # *rest: the NLU result and whatever else the policy is given (facts, ...)
        decided.append(turn.text)
        if turn.text == POISON:
            raise ZeroDivisionError(f"bug while answering {turn.text!r}")
        return decide(convo, turn, *rest)

    services.policy.decide = decide_or_raise  # type: ignore[method-assign]
    return services


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa(token="secret", default=FakeAnswer("check_balance", 0.95)) as rasa:
        yield rasa


@pytest.fixture
async def web(database_url: str, fake_rasa: FakeRasa) -> AsyncIterator[WebChat]:
    settings = base_settings(
        database_url=database_url, rasa_url=fake_rasa.url,
        rasa_token=SecretStr("secret"), webchat_rate_per_ip=0, webchat_rate_per_user=0,
        processing_max_attempts=2,
    )
    decided: list[str] = []
    app = create_app(settings)
    poisoned(app.state.services, decided)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield WebChat(http, app.state.services, decided)


# -- defect 1 --------------------------------------------------------------------------------

async def test_user_and_message_ids_that_concatenate_alike_do_not_collide(web: WebChat) -> None:
    first = await web.say("a:b", "какой у меня баланс", message_id="c")
    second = await web.say("a", "какой у меня баланс", message_id="b:c")
    assert first["conversation_id"] != second["conversation_id"]
    assert second["replies"], "the second user is answered"
    assert {r["id"] for r in first["replies"]}.isdisjoint({r["id"] for r in second["replies"]})
    assert web.decided == ["какой у меня баланс"] * 2


async def test_the_same_message_id_from_two_users_is_two_messages(web: WebChat) -> None:
    anna = await web.say("anna", "какой у меня баланс", message_id="1")
    boris = await web.say("boris", "какой у меня баланс", message_id="1")
    assert anna["conversation_id"] != boris["conversation_id"]
    assert boris["replies"] and {r["id"] for r in boris["replies"]}.isdisjoint(
        {r["id"] for r in anna["replies"]}
    )
    assert len(web.decided) == 2


async def test_a_repeated_message_id_returns_the_first_answer(web: WebChat) -> None:
    first = await web.say("anna", "какой у меня баланс", message_id="m-1")
    again = await web.say("anna", "какой у меня баланс", message_id="m-1")
    assert "session_token" in first and "session_token" not in again, "handed out once"
    assert again == without_token(first)
    assert len(web.decided) == 1, "answered once"


async def test_the_longest_ids_are_answered(web: WebChat) -> None:
    user, message_id = "u" * LONGEST, "m" * LONGEST
    first = await web.say(user, "какой у меня баланс", message_id=message_id)
    assert first["replies"]
    again = await web.say(user, "какой у меня баланс", message_id=message_id)
    assert again == without_token(first)
    [stored] = await web.inbound(first["conversation_id"])
    assert stored.channel_message_id == message_id


# -- defect 5 --------------------------------------------------------------------------------

async def test_a_poison_message_is_answered_honestly_and_handed_to_a_person(
    web: WebChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    kb = web.services.kb
    answer = await web.say("anna", POISON, message_id="p-1")

    assert web.decided == [POISON, POISON], "PROCESSING_MAX_ATTEMPTS=2 passes"
    assert answer["state"] == "waiting_agent"
    assert answer["replies"][0]["text"] == kb.phrase(PhraseKey.PROCESSING_FAILED, "ru")
    [poison] = await web.inbound(answer["conversation_id"])
    assert poison.attempts == 2 and poison.failed_at is not None

    retried = await web.say("anna", POISON, message_id="p-1")
    assert retried == without_token(answer), "a retry gets the same answer, not another attempt"

    nxt = await web.say("anna", "какой у меня баланс", message_id="p-2")
    assert nxt["conversation_id"] == answer["conversation_id"]
    assert nxt["state"] == "waiting_agent"
    [_, after] = await web.inbound(answer["conversation_id"])
    assert after.processed_at is not None and after.failed_at is None

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == "bot.conversations"
    assert "ZeroDivisionError" in errors[0].getMessage()
    assert "сломай" not in caplog.text and "8029" not in caplog.text
