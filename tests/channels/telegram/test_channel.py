"""TelegramChannel.send through the real aiogram Bot against the fake Bot API: what goes out,
and how every kind of failure is reported to the outbox sender."""

from __future__ import annotations

import html

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage

from bot.channel import (
    Channel,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from bot.messages import Button, OutboundMessage
from channels.telegram import TelegramChannel
from channels.telegram.errors import channel_error
from channels.telegram.rendering import render
from tests.channels.telegram.fake_bot_api import FakeBotApi

LONG_TEXT = "\n".join(f"{i:03d} " + " ".join(["слово"] * 30) for i in range(60))  # 3 parts


@pytest.fixture
def channel(bot: Bot) -> TelegramChannel:
    return TelegramChannel(bot)


def test_it_is_a_channel_with_telegram_rate_limits(channel: TelegramChannel) -> None:
    assert isinstance(channel, Channel)
    assert channel.name == "telegram"
    assert channel.per_address_interval == 1.0 and channel.global_rate == 30


async def test_text_goes_escaped_in_html_mode_with_an_inline_keyboard(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    await channel.send("42", OutboundMessage(
        text="Баланс: *100# <звонок> & SMS",
        buttons=(Button("Номера поддержки", "/support_contacts"),)))
    [sent] = api.sent(42)
    assert sent.parse_mode == "HTML"
    assert sent.text == "Баланс: *100# <звонок> & SMS"
    assert sent.raw == "Баланс: *100# &lt;звонок&gt; &amp; SMS"
    assert sent.reply_markup == {"inline_keyboard": [
        [{"text": "Номера поддержки", "callback_data": "/support_contacts"}]]}


async def test_a_long_reply_goes_in_parts_in_order(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    await channel.send("42", OutboundMessage(text=LONG_TEXT, buttons=(Button("Ок", "/affirm"),)))
    sent = api.sent(42)
    assert len(sent) == 3
    assert "\n".join(s.text for s in sent) == LONG_TEXT
    assert [s.reply_markup is not None for s in sent] == [False, False, True]


async def test_a_phone_request_is_a_contact_button(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    await channel.send("42", OutboundMessage(text="Подтвердите номер", request_phone=True))
    [sent] = api.sent(42)
    assert sent.reply_markup is not None
    [[button]] = sent.reply_markup["keyboard"]
    assert button["request_contact"] is True
    assert sent.reply_markup["one_time_keyboard"] is True


async def test_a_long_button_payload_is_accepted_by_telegram(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    payload = '/roaming_prices{"country": "Соединённые Штаты Америки"}'
    await channel.send("42", OutboundMessage(text="Цены", buttons=(Button("США", payload),)))
    [sent] = api.sent(42)
    assert sent.reply_markup is not None
    data = sent.reply_markup["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith("#") and len(data.encode()) <= 64


async def test_flood_control_is_temporary_with_retry_after(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TemporaryChannelError) as caught:
        await channel.send("42", OutboundMessage(text="привет"))
    assert caught.value.retry_after == 7.0
    assert api.sent(42) == []


@pytest.mark.parametrize(("status", "body"), [(500, None), (502, "<html>Bad Gateway</html>")])
async def test_server_errors_are_temporary(
    api: FakeBotApi, channel: TelegramChannel, status: int, body: str | None
) -> None:
    api.fail_next("sendMessage", status, body=body)
    with pytest.raises(TemporaryChannelError) as caught:
        await channel.send("42", OutboundMessage(text="привет"))
    assert caught.value.retry_after is None


async def test_a_blocked_bot_means_the_recipient_is_gone(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.block(42)
    with pytest.raises(RecipientGoneError, match="bot was blocked by the user"):
        await channel.send("42", OutboundMessage(text="привет"))


async def test_a_bad_request_is_permanent_with_the_reason(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(PermanentChannelError, match="chat not found") as caught:
        await channel.send("42", OutboundMessage(text="привет"))
    assert not isinstance(caught.value, RecipientGoneError)


async def test_an_address_that_is_not_a_chat_id_is_permanent(channel: TelegramChannel) -> None:
    with pytest.raises(PermanentChannelError, match="not a Telegram chat id"):
        await channel.send("someone@example.test", OutboundMessage(text="привет"))


async def test_a_slow_server_is_a_temporary_timeout(api: FakeBotApi) -> None:
    api.slow("sendMessage", 2.0)
    impatient = Bot(api.token, session=AiohttpSession(
        api=TelegramAPIServer.from_base(api.url), timeout=0.3))
    try:
        with pytest.raises(TemporaryChannelError, match="timeout"):
            await TelegramChannel(impatient).send("42", OutboundMessage(text="привет"))
    finally:
        await impatient.session.close()


async def test_a_retry_after_a_failed_part_does_not_repeat_the_parts_that_went_out(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    message = OutboundMessage(text=LONG_TEXT)
    parts = [html.unescape(part.html) for part in render(message)]
    assert len(parts) == 3
    api.fail_next("sendMessage", 500, after=1)  # the first part goes out, the second fails
    with pytest.raises(TemporaryChannelError):
        await channel.send("42", message)
    assert [s.text for s in api.sent(42)] == parts[:1]
    await channel.send("42", message)  # the outbox sender retries the reply
    assert [s.text for s in api.sent(42)] == parts


def test_error_messages_never_carry_the_token() -> None:
    token = "123:SECRET"
    exc = TelegramBadRequest(method=SendMessage(chat_id=1, text="x"),
                             message=f"Bad Request: url https://x/bot{token}/sendMessage")
    error = channel_error(exc, secret=token)
    assert error is not None and token not in str(error) and "***" in str(error)
    assert channel_error(ValueError("a bug"), secret=token) is None

