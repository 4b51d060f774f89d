"""The webhook route on its own (the intake only records): the secret, bad bodies, unknown
updates, storage failures, and the 200 that comes only after the update is stored."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.types import Update
from fastapi import FastAPI

from channels.telegram.intake import Stored
from channels.telegram.options import WEBHOOK_PATH
from channels.telegram.webhook import SECRET_HEADER, webhook_router
from tests.channels.telegram.updates import TelegramUser

SECRET = "the-right-secret_1"
anna = TelegramUser(5001)


class RecordingIntake:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.failing = False

    async def store(self, update: Update) -> Stored | None:
        self.events.append(f"store {update.update_id}")
        if self.failing:
            raise ConnectionError("the database is down")
        if update.message is None:
            return None
        return Stored(update.update_id, "conversation-1", duplicate=False)

    def dispatch(self, stored: Stored) -> None:
        self.events.append(f"dispatch {stored.update_id}")


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
async def http(bot: Bot, intake: RecordingIntake) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(webhook_router(bot=bot, intake=intake, secret=SECRET))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def post(http: httpx.AsyncClient, body: Any, *, secret: str | None = SECRET,
               raw: bytes | None = None) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    if raw is not None:
        return await http.post(WEBHOOK_PATH, content=raw, headers=headers)
    return await http.post(WEBHOOK_PATH, json=body, headers=headers)


async def test_an_update_is_stored_then_answered_200_then_dispatched(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    response = await post(http, {"update_id": 10, **anna.text("привет")})
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert intake.events == ["store 10", "dispatch 10"]


@pytest.mark.parametrize("secret", [None, b"", b"the-wrong-secret", (SECRET + "x").encode(),
                                    "секрет".encode()])
async def test_a_wrong_or_missing_secret_is_401_and_nothing_is_read(
    http: httpx.AsyncClient, intake: RecordingIntake, secret: bytes | None
) -> None:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    response = await http.post(WEBHOOK_PATH, json={"update_id": 11, **anna.text("привет")},
                               headers=headers)
    assert response.status_code == 401
    assert intake.events == []


@pytest.mark.parametrize("raw", [b"not json", b"{\"update_id\": ", b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_400(
    http: httpx.AsyncClient, intake: RecordingIntake, raw: bytes
) -> None:
    response = await post(http, None, raw=raw)
    assert response.status_code == 400 and intake.events == []


@pytest.mark.parametrize("body", [[1, 2], {"message": {}}, {"update_id": "12"},
                                  {"update_id": True}])
async def test_json_that_is_not_an_update_is_400(
    http: httpx.AsyncClient, intake: RecordingIntake, body: Any
) -> None:
    response = await post(http, body)
    assert response.status_code == 400 and intake.events == []


async def test_unknown_and_unexpected_updates_are_200_so_telegram_stops_sending_them(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    unknown = await post(http, {"update_id": 13, "brand_new_kind": {"x": 1}})
    malformed = await post(http, {"update_id": 14, "message": {"text": "no chat, no date"}})
    assert unknown.status_code == malformed.status_code == 200
    assert intake.events == ["store 13"], "the malformed one is skipped before storing"


async def test_an_unexpected_shape_is_logged_without_what_the_subscriber_wrote(
    http: httpx.AsyncClient, intake: RecordingIntake, caplog: pytest.LogCaptureFixture
) -> None:
    phone, text = "+375291234567", "перезвоните мне на 375297654321, это срочно"
    message = {"message_id": 7, "text": text, "contact": {"phone_number": phone},
               "from": {"id": "not a number", "first_name": "Anna"}}  # no chat, no date
    with caplog.at_level(logging.DEBUG):
        response = await post(http, {"update_id": 16, "message": message})
    assert response.status_code == 200 and intake.events == []
    logged = [f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    for secret in (phone, phone[1:], "375297654321", "перезвоните", "not a number"):
        assert not [line for line in logged if secret in line], f"{secret!r} reached a log"
    [record] = [r for r in caplog.records if r.name == "channels.telegram.webhook"]
    assert "16" in record.getMessage() and "ValidationError" in record.getMessage()


async def test_an_update_that_cannot_be_stored_is_503_so_telegram_retries(
    http: httpx.AsyncClient, intake: RecordingIntake
) -> None:
    intake.failing = True
    response = await post(http, {"update_id": 15, **anna.text("привет")})
    assert response.status_code == 503
    assert intake.events == ["store 15"], "not dispatched"
