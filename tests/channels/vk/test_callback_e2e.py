"""VK in Callback mode end to end: VK (the test) posts events to the real app's ``/vk/callback``;
the app stores them, answers ``ok`` and replies through the outbox with the real vk-api client
(real Rasa model, real database)."""

from __future__ import annotations

import asyncio

import pytest

from channels.vk.options import CALLBACK_PATH
from tests.channels.vk.events import CHAT_PEER_ID, confirmation_body, new_vk_user
from tests.support import channel_db
from tests.support.vk import CALLBACK_CONFIRMATION, CALLBACK_SECRET, VkApp

pytestmark = pytest.mark.rasa


async def test_the_confirmation_is_the_configured_string_as_plain_text(
    callback_app: VkApp,
) -> None:
    response = await callback_app.http.post(CALLBACK_PATH,
                                            json=confirmation_body(callback_app.api.group_id))
    assert response.status_code == 200
    assert response.text == CALLBACK_CONFIRMATION
    assert response.headers["content-type"].startswith("text/plain")


async def test_a_message_is_answered_ok_then_replied_to(callback_app: VkApp) -> None:
    vk, anna = callback_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Анна", "Ковалёва")
    response = await callback_app.post_event(anna.text("какой у меня баланс"))
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/plain")
    [inbound] = await callback_app.messages(anna, "in")  # stored before ok
    assert inbound.text == "какой у меня баланс"

    [reply, *_] = await vk.wait_sent(anna.user_id, timeout=30)
    assert "баланс" in reply.text.lower()
    await vk.wait_for(lambda: callback_app.delivered(anna), what="everything delivered")
    replies = [m.text for m in await callback_app.messages(anna, "out")]
    assert [s.text for s in vk.sent(anna.user_id)] == replies, "each reply once"
    identity = await channel_db.find_identity(callback_app.services.db, "vk",
                                              str(anna.user_id))
    assert identity is not None and identity.display_name == "Анна Ковалёва"
    assert vk.calls("groups.getLongPollServer") == [], "no long poll in Callback mode"


@pytest.mark.parametrize("secret", [None, "wrongSecret1", CALLBACK_SECRET + "x"])
async def test_a_wrong_secret_is_403_and_nothing_is_stored(
    callback_app: VkApp, secret: str | None
) -> None:
    vk, anna = callback_app.api, new_vk_user()
    response = await callback_app.post_event(anna.text("какой у меня баланс"), secret=secret)
    assert response.status_code == 403 and response.text != "ok"
    assert await channel_db.find_identity(callback_app.services.db, "vk",
                                          str(anna.user_id)) is None
    assert await callback_app.messages(anna) == []
    assert vk.calls("users.get") == [], "nothing was read"
    dora = new_vk_user("Дора")  # a valid event after it: once she is answered...
    assert (await callback_app.post_event(dora.text("/help"))).text == "ok"
    await vk.wait_sent(dora.user_id, timeout=30)
    await vk.wait_for(lambda: callback_app.delivered(dora), what="Dora served")
    assert {m.peer_id for m in vk.all_sent()} == {dora.user_id}, "...Anna got nothing"


async def test_a_redelivery_with_x_retry_counter_is_answered_once(callback_app: VkApp) -> None:
    vk, anna = callback_app.api, new_vk_user()
    event = anna.text("какой у меня баланс")
    first = await callback_app.post_event(event)
    again = await callback_app.post_event(event, retry=1)
    assert first.text == again.text == "ok"
    await vk.wait_sent(anna.user_id, timeout=30)
    await vk.wait_for(lambda: callback_app.delivered(anna), what="everything delivered")
    third = await callback_app.post_event(event, retry=2)  # after it was answered
    assert third.text == "ok"
    assert len(await callback_app.messages(anna, "in")) == 1
    replies = [m.text for m in await callback_app.messages(anna, "out")]
    await vk.wait_for(lambda: callback_app.delivered(anna), what="nothing new pending")
    assert [s.text for s in vk.sent(anna.user_id)] == replies and replies, "each reply once"
    assert len(vk.calls("messages.send")) == len(replies)


async def test_concurrent_redeliveries_store_one_message(callback_app: VkApp) -> None:
    """Two replicas (or VK's retry racing the first delivery) get the same event at once."""
    vk, anna = callback_app.api, new_vk_user()
    event = anna.text("какой у меня баланс")
    answers = await asyncio.gather(*(callback_app.post_event(event, retry=n or None)
                                     for n in range(4)))
    assert [a.text for a in answers] == ["ok"] * 4
    await vk.wait_sent(anna.user_id, timeout=30)
    await vk.wait_for(lambda: callback_app.delivered(anna), what="everything delivered")
    assert len(await callback_app.messages(anna, "in")) == 1
    replies = [m.text for m in await callback_app.messages(anna, "out")]
    assert [s.text for s in vk.sent(anna.user_id)] == replies


async def test_events_the_bot_does_not_read_are_ok_and_store_nothing(
    callback_app: VkApp,
) -> None:
    vk, anna, boris = callback_app.api, new_vk_user(), new_vk_user("Борис")
    for event in (anna.in_chat("какой у меня баланс"), boris.edit("исправил"),
                  boris.callback_press({"cmd": "x"})):
        response = await callback_app.post_event(event)
        assert (response.status_code, response.text) == (200, "ok")
    db = callback_app.services.db
    for user in (anna, boris):
        assert await channel_db.find_identity(db, "vk", str(user.user_id)) is None
    dora = new_vk_user("Дора")
    assert (await callback_app.post_event(dora.text("/help"))).text == "ok"
    await vk.wait_sent(dora.user_id, timeout=30)
    assert vk.sent(CHAT_PEER_ID) == [] and vk.sent(boris.user_id) == []
    assert {m.peer_id for m in vk.all_sent()} == {dora.user_id}
