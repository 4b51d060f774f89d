"""The fake Bot API speaks the real protocol: the real aiogram client and plain HTTP agree."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError

from channels.telegram.client import create_bot
from channels.telegram.options import TelegramOptions
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import TelegramUser

anna = TelegramUser(5001)


async def test_get_me_and_updates_with_offsets(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == api.username and me.is_bot
    first = api.enqueue(anna.text("раз"))
    second = api.enqueue(anna.text("два"))
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second], "not confirmed yet"
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert await bot.get_updates(offset=second + 1) == []
    assert api.confirmed_offset == second + 1 and api.pending_updates() == []


async def test_long_polling_waits_for_an_update(api: FakeBotApi, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert time.monotonic() - started >= 0.9, "an empty long poll waits for its timeout"

    async def later() -> None:
        await asyncio.sleep(0.3)
        api.enqueue(anna.text("наконец"))

    started = time.monotonic()
    updates, _ = await asyncio.gather(bot.get_updates(timeout=10), later())
    assert len(updates) == 1 and updates[0].message is not None
    assert time.monotonic() - started < 5, "it answers as soon as an update arrives"


async def test_send_message_records_what_the_user_sees(api: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(chat_id=42, text="1 &lt; 2 <b>жирный</b>", parse_mode="HTML")
    [sent] = api.sent(42)
    assert sent.text == "1 < 2 жирный" and sent.raw == "1 &lt; 2 <b>жирный</b>"
    assert sent.parse_mode == "HTML"
    call = api.calls("sendMessage")[-1]
    assert call.params["chat_id"] == 42 and call.status == 200


async def test_it_refuses_what_telegram_refuses(api: FakeBotApi) -> None:
    async with httpx.AsyncClient(base_url=f"{api.url}/bot{api.token}") as http:
        unescaped = await http.post("/sendMessage", json={
            "chat_id": 1, "text": "1 < 2", "parse_mode": "HTML"})
        too_long = await http.post("/sendMessage", data={"chat_id": "1", "text": "я" * 4097})
        bad_button = await http.post("/sendMessage", data={
            "chat_id": "1", "text": "x",
            "reply_markup": '{"inline_keyboard": [[{"text": "b", "callback_data": "' +
                            "x" * 65 + '"}]]}'})
        unknown = await http.post("/sendPigeon", json={})
    assert unescaped.status_code == 400
    assert "can't parse entities" in unescaped.json()["description"]
    assert too_long.json()["description"] == "Bad Request: message is too long"
    assert bad_button.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert unknown.status_code == 404 and unknown.json()["ok"] is False


async def test_a_webhook_blocks_polling_until_deleted(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_webhook(url="https://bot.example.test/telegram/webhook", secret_token="abc")
    assert api.webhook is not None and api.webhook["secret_token"] == "abc"
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    await bot.delete_webhook()
    assert api.webhook is None and await bot.get_updates() == []


async def test_a_wrong_token_is_unauthorized(api: FakeBotApi) -> None:
    stranger = create_bot(TelegramOptions(token="1:wrong", api_base=api.url))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
