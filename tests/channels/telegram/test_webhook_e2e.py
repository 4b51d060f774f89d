"""Telegram in webhook mode end to end: updates are posted to the real app's route, the replies
go out through the real aiogram client to the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from channels.telegram.options import WEBHOOK_PATH
from channels.telegram.webhook import SECRET_HEADER
from tests.support.telegram import WEBHOOK_SECRET, TelegramApp, new_telegram_user

pytestmark = pytest.mark.rasa


async def test_a_question_gets_the_knowledge_base_answer(webhook_app: TelegramApp) -> None:
    api, anna = webhook_app.api, new_telegram_user()
    response = await webhook_app.post_update({"update_id": 501, **anna.text("какой у меня баланс")})
    assert response.status_code == 200
    [inbound] = await webhook_app.messages(anna, "in")  # stored before the 200
    assert inbound.text == "какой у меня баланс"
    [reply, *_] = await api.wait_sent(anna.id)
    assert "баланс" in reply.text.lower()
    assert api.calls("getUpdates") == [], "no polling in webhook mode"


async def test_the_same_update_delivered_twice_is_answered_once(webhook_app: TelegramApp) -> None:
    api, anna = webhook_app.api, new_telegram_user()
    update = {"update_id": 502, **anna.text("/help")}
    first, second = await asyncio.gather(webhook_app.post_update(update),
                                         webhook_app.post_update(update))
    third = await webhook_app.post_update(update)
    assert first.status_code == second.status_code == third.status_code == 200
    await api.wait_for(lambda: webhook_app.delivered(anna), what="everything delivered")
    assert len(await webhook_app.messages(anna, "in")) == 1
    outbound = await webhook_app.messages(anna, "out")
    assert len(outbound) == 1 and len(api.sent(anna.id)) == 1


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
async def test_a_wrong_secret_is_401_and_changes_nothing(
    webhook_app: TelegramApp, secret: str | None
) -> None:
    anna = new_telegram_user()
    response = await webhook_app.post_update({"update_id": 503, **anna.text("баланс")},
                                             secret=secret)
    assert response.status_code == 401
    assert await webhook_app.identity(anna) is None
    assert await webhook_app.messages(anna) == []


async def test_unknown_updates_and_bad_bodies_change_nothing(webhook_app: TelegramApp) -> None:
    anna = new_telegram_user()
    unknown = await webhook_app.post_update({"update_id": 504, "brand_new_kind": {"x": 1}})
    edited = await webhook_app.post_update({"update_id": 505, **anna.edited(1, "правка")})
    garbage = await webhook_app.http.post(
        WEBHOOK_PATH, content=b"<xml/>",
        headers={SECRET_HEADER: WEBHOOK_SECRET})
    assert unknown.status_code == edited.status_code == 200
    assert garbage.status_code == 400
    assert await webhook_app.identity(anna) is None
