"""A VK subscriber asks for a person, end to end (real app, real Rasa, real database): the desk
shows the conversation as VK with the name ``users.get`` gave, an agent claims and replies
through the desk API, and the notices, the reply and the rating question reach the VK peer
through ``messages.send``."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from bot.storage import ConversationState
from channels.vk.rendering import random_id
from tests.channels.vk.events import VkUser, new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi, SentMessage
from tests.support.desk import Desk
from tests.support.vk import VkApp

pytestmark = pytest.mark.rasa

# more than VK's parts hold (emoji count twice when a reply is cut), within the desk's limit
LONG_AGENT_REPLY = " ".join(["Проверил🙂"] * 390)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its production cost takes ~0.2 s a hash."""
    import handoff.auth

    monkeypatch.setattr(
        handoff.auth, "PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


def desk_of(app: VkApp) -> Desk:
    return Desk(app.url, app.http, app.services)


def item_of(queue: dict[str, Any], conversation_id: str) -> dict[str, Any] | None:
    return next((i for i in queue["waiting"] + queue["active"]
                 if i["conversation_id"] == conversation_id), None)


async def next_sent(vk: FakeVkApi, user: VkUser, count: int) -> list[SentMessage]:
    """The messages sent to ``user`` beyond the first ``count``, once there are any."""
    await vk.wait_sent(user.user_id, count + 1, timeout=20)
    return vk.sent(user.user_id)[count:]


async def test_an_agents_reply_through_the_desk_reaches_the_vk_peer(
    long_poll_app: VkApp,
) -> None:
    app, vk, anna = long_poll_app, long_poll_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Анна", "Ковалёва")
    vk.enqueue(anna.text("какой у меня баланс"))
    await vk.wait_for(lambda: app.delivered(anna), timeout=30, what="the bot answered")
    vk.enqueue(anna.text("позовите оператора"))
    before = len(await app.messages(anna, "out"))
    [waiting, *_] = await next_sent(vk, anna, before)
    assert "очереди: 1" in waiting.text
    conversation = await app.conversation(anna)
    assert conversation is not None and conversation.state == ConversationState.WAITING_AGENT

    desk = desk_of(app)
    olga = await desk.create_agent("olga")
    item = item_of(await desk.queue(olga), conversation.id)
    assert item is not None and item["status"] == "waiting"
    card = item["card"]
    assert card["channel"] == "vk"
    assert card["identity"]["display_name"] == "Анна Ковалёва", "the name from users.get"
    assert "channel_user_id" not in card["identity"] and card["identity"]["alias"]
    assert card["reason"] == "subscriber_request"

    await vk.wait_for(lambda: app.delivered(anna), what="the waiting notice sent")
    count = len(vk.sent(anna.user_id))
    claimed = await desk.post(olga, conversation.id, "claim")
    assert claimed.status_code == 200, claimed.text
    [joined] = await next_sent(vk, anna, count)
    assert joined.text, "the subscriber is told an agent joined"

    answer = "Ваш баланс 12,50 BYN. Чем ещё помочь?"
    sent = await desk.post(olga, conversation.id, "messages", {"text": answer})
    assert sent.status_code == 201, sent.text
    [reply] = await next_sent(vk, anna, count + 1)
    assert reply.text == answer and reply.peer_id == anna.user_id
    [call] = [c for c in vk.calls("messages.send") if c.params["message"] == answer]
    assert call.params["peer_id"] == str(anna.user_id)
    agent_out = [m for m in await app.messages(anna, "out") if m.sender == "agent"]
    assert [m.text for m in agent_out] == [answer]

    # the subscriber's answer goes to the agent, not to the bot
    vk.enqueue(anna.text("а почему так мало?"))
    await vk.wait_for(lambda: app.delivered(anna), what="stored")
    detail = (await desk.http.get(f"/api/desk/conversations/{conversation.id}",
                                  headers=olga.headers)).json()
    said = [m["text"] for m in detail["card"]["transcript"] if m["sender"] == "subscriber"]
    assert said[-1] == "а почему так мало?"
    assert len(vk.sent(anna.user_id)) == count + 2, "the bot did not answer it"

    # a reply longer than one VK message goes in parts, each with its own random_id
    long_sent = await desk.post(olga, conversation.id, "messages", {"text": LONG_AGENT_REPLY})
    assert long_sent.status_code == 201, long_sent.text
    await vk.wait_for(lambda: app.delivered(anna), what="the long reply sent")
    parts = vk.sent(anna.user_id)[count + 2:]
    assert len(parts) == 2
    assert " ".join(p.text for p in parts) == LONG_AGENT_REPLY
    rows = await app.outbox(anna)
    assert [p.random_id for p in parts] == [random_id(rows[-1].id, n, p.text)
                                            for n, p in enumerate(parts)]
    assert len({p.random_id for p in vk.sent(anna.user_id)}) == len(vk.sent(anna.user_id))

    # closing: the notice and the rating question reach VK; the rating is stored
    count = len(vk.sent(anna.user_id))
    closed = await desk.post(olga, conversation.id, "close", {"resolution": "told the balance"})
    assert closed.status_code == 200, closed.text
    await next_sent(vk, anna, count)
    await vk.wait_for(lambda: app.delivered(anna), what="the closing replies sent")
    closing = vk.sent(anna.user_id)[count:]
    assert "от 1" in closing[-1].text, "the rating question"
    vk.enqueue(anna.text("5"))
    [thanks] = await next_sent(vk, anna, len(vk.sent(anna.user_id)))
    assert "Спасибо за оценку" in thanks.text
    detail = (await desk.http.get(f"/api/desk/conversations/{conversation.id}",
                                  headers=olga.headers)).json()
    assert detail["rating"] == 5
    assert [c for c in vk.calls("messages.send") if c.error is not None] == []
