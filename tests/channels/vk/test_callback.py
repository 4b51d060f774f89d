"""The Callback API route on its own (the intake only records): the confirmation, the secret,
bad bodies, storage failures, and the plain-text ``ok`` that comes only after the event is
stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from channels.vk.callback import RETRY_HEADER, callback_router
from channels.vk.intake import StoreFailed
from channels.vk.options import CALLBACK_PATH
from tests.channels.vk.events import callback_body, confirmation_body, new_vk_user

GROUP = 229000001
CONFIRMATION = "c0nf1rmMe"
SECRET = "TheRightSecret42"


class RecordingIntake:
    """Records what it is given; fails with StoreFailed when told; can be held mid-store."""

    def __init__(self) -> None:
        self.stored: list[Mapping[str, Any]] = []
        self.failing = False
        self.entered = asyncio.Event()
        self.release: asyncio.Event | None = None

    async def store(self, events: Sequence[Mapping[str, Any]]) -> list[object]:
        self.entered.set()
        if self.release is not None:
            await self.release.wait()
        if self.failing:
            raise StoreFailed("OperationalError")
        self.stored.extend(events)
        return []


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
async def http(intake: RecordingIntake) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(callback_router(intake=intake, group_id=GROUP,  # type: ignore[arg-type]
                                       confirmation=CONFIRMATION, secret=SECRET))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def message(text: str = "какой у меня баланс") -> dict[str, Any]:
    return new_vk_user().text(text)


async def post(http: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    return await http.post(CALLBACK_PATH, json=body, headers=headers)


def is_plain_text(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/plain")


async def test_the_confirmation_answers_the_configured_string_as_plain_text(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    response = await post(http, confirmation_body(GROUP))
    assert response.status_code == 200
    assert response.text == CONFIRMATION, "exactly the string, not JSON"
    assert is_plain_text(response)
    assert intake.stored == []


async def test_a_confirmation_for_another_community_is_refused(
    http: httpx.AsyncClient,
) -> None:
    response = await post(http, confirmation_body(GROUP + 1))
    assert response.status_code == 403
    assert CONFIRMATION not in response.text


async def test_an_event_is_stored_then_answered_ok(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    event = message()
    response = await post(http, callback_body(event, secret=SECRET))
    assert response.status_code == 200
    assert response.text == "ok" and is_plain_text(response), "VK wants exactly ok"
    [stored] = intake.stored
    assert stored["object"] == event["object"] and stored["type"] == "message_new"


async def test_ok_waits_until_the_event_is_stored(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    intake.release = asyncio.Event()
    answer = asyncio.create_task(post(http, callback_body(message(), secret=SECRET)))
    await asyncio.wait_for(intake.entered.wait(), 5)
    await asyncio.sleep(0.05)  # give a premature answer the chance to show
    assert not answer.done(), "not answered while storing"
    intake.release.set()
    response = await asyncio.wait_for(answer, 5)
    assert response.text == "ok" and len(intake.stored) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], "секрет",
                                    12345, ["TheRightSecret42"]])
async def test_a_wrong_or_missing_secret_is_403_and_nothing_is_stored(
    http: httpx.AsyncClient, intake: RecordingIntake, secret: object
) -> None:
    body = message()
    if secret is not None:
        body["secret"] = secret
    response = await post(http, body)
    assert response.status_code == 403
    assert response.text != "ok"
    assert intake.stored == [] and not intake.entered.is_set()


async def test_an_event_for_another_community_is_403_and_nothing_is_stored(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    response = await post(http, callback_body(message(), secret=SECRET, group_id=GROUP + 1))
    assert response.status_code == 403
    assert intake.stored == []


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"ok"', b"{}",
                                 b'{"type": 5, "group_id": 229000001}', b"{\"type\": \"x"])
async def test_a_body_that_is_not_a_vk_event_is_400(
    http: httpx.AsyncClient, intake: RecordingIntake, raw: bytes
) -> None:
    response = await http.post(CALLBACK_PATH, content=raw,
                               headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert intake.stored == []


async def test_when_storing_fails_vk_is_told_to_deliver_again(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    intake.failing = True
    response = await post(http, callback_body(message(), secret=SECRET))
    assert response.status_code == 503
    assert response.text != "ok"
    intake.failing = False
    again = await post(http, callback_body(message(), secret=SECRET), **{RETRY_HEADER: "1"})
    assert again.text == "ok"


async def test_events_the_bot_does_not_read_are_answered_ok_too(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    """So that VK stops delivering them; the intake decides they are ignored."""
    anna = new_vk_user()
    for event in (anna.edit("исправил"), anna.in_chat("всем привет"),
                  anna.callback_press({"cmd": "x"}),
                  {"type": "group_join", "object": {"user_id": anna.user_id},
                   "group_id": GROUP, "event_id": "e1", "v": "5.199"}):
        response = await post(http, callback_body(event, secret=SECRET, group_id=GROUP))
        assert (response.status_code, response.text) == (200, "ok")
    assert len(intake.stored) == 4


async def test_a_redelivery_is_passed_on_and_answered_ok(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    """The route does not remember events (replicas would not share it): the core's
    idempotent accept recognises the duplicate."""
    body = callback_body(message(), secret=SECRET)
    first = await post(http, body)
    again = await post(http, body, **{RETRY_HEADER: "2"})
    assert first.text == again.text == "ok"
    assert len(intake.stored) == 2 and intake.stored[0] == intake.stored[1]


async def test_neither_the_secret_nor_the_confirmation_reaches_a_log(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await post(http, confirmation_body(GROUP))
        await post(http, callback_body(message(), secret=SECRET), **{RETRY_HEADER: "3"})
        await post(http, callback_body(message(), secret="WrongSecret1"))
    assert caplog.records, "the redelivery is logged"
    for secret in (SECRET, CONFIRMATION, "WrongSecret1", "баланс"):
        assert secret not in caplog.text
