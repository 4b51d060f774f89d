"""Telegram under faults, end to end: flood control and a user who blocked the bot."""

from __future__ import annotations

import pytest

from tests.support.telegram import TelegramApp, new_telegram_user

pytestmark = pytest.mark.rasa


async def test_flood_control_delays_the_reply_and_keeps_the_chats_order(
    polling_app: TelegramApp,
) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.fail_next("sendMessage", 429, retry_after=1)
    api.enqueue(anna.text("/start"))
    api.enqueue(anna.text("/help"))
    first, second = await api.wait_sent(anna.id, 2, timeout=30)
    assert first.text.startswith("Здравствуйте"), "the greeting that met flood control is first"
    assert second.text.startswith("Вот с чем я могу помочь")
    [flood] = [c for c in api.calls("sendMessage") if c.status == 429]
    assert flood.params["text"] == first.raw
    assert first.at - flood.at >= 1.0, "retry_after was honoured"
    await api.wait_for(lambda: polling_app.delivered(anna), what="outbox done")
    assert [(row.status, row.attempts) for row in await polling_app.outbox(anna)] == [
        ("sent", 2), ("sent", 1)]


async def test_a_user_who_blocked_the_bot_is_marked_and_never_retried(
    polling_app: TelegramApp,
) -> None:
    api, anna, boris = polling_app.api, new_telegram_user(), new_telegram_user(first_name="Boris")
    api.block(anna.id)
    api.enqueue(anna.text("/help"))
    await api.wait_for(lambda: polling_app.delivered(anna), what="the reply given up")
    [row] = await polling_app.outbox(anna)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "blocked by the user" in row.last_error
    identity = await polling_app.identity(anna)
    assert identity is not None and identity.blocked_at is not None

    api.enqueue(boris.text("/help"))  # the sender keeps working for others...
    await api.wait_sent(boris.id)
    await api.wait_for(lambda: polling_app.delivered(boris), what="Boris served")
    to_anna = [c for c in api.calls("sendMessage") if c.params.get("chat_id") == anna.id]
    assert [c.status for c in to_anna] == [403], "...and never tries Anna again"
