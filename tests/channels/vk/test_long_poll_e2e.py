"""VK in Long Poll mode end to end: the real app (real Rasa model, real database) polls the fake
VK API through its own loop and answers through the outbox with the real vk-api client."""

from __future__ import annotations

import functools
import json

import pytest

from bot.cursors import Cursors
from bot.storage import ConversationState
from channels.vk.rendering import random_id
from nlu.server import RasaServer
from tests.channels.vk.events import CHAT_PEER_ID, VkUser, new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi, SentMessage
from tests.support import channel_db
from tests.support.vk import VkApp, running_vk_app

pytestmark = pytest.mark.rasa


def pressable(sent: SentMessage) -> dict[str, dict[str, str]]:
    """The buttons of a reply's keyboard: our payload -> (label, VK's payload string)."""
    assert sent.keyboard is not None, f"no keyboard on {sent.text[:40]!r}"
    buttons = [b["action"] for row in sent.keyboard["buttons"] for b in row]
    return {json.loads(a["payload"])["p"]: a for a in buttons}


def assert_keyboards_valid(vk: FakeVkApi) -> None:
    """VK (the fake) refuses a keyboard that breaks its rules with error 911."""
    refused = [c for c in vk.calls("messages.send") if c.error == 911]
    assert refused == [], f"VK refused keyboards: {[c.params.get('keyboard') for c in refused]}"


async def position(app: VkApp) -> int:
    """The long poll's saved ts: every event numbered below it has been stored or ignored."""
    saved = await Cursors(app.services.db).get(f"vk:long_poll:{app.api.group_id}")
    return int(saved) if saved is not None else 0


async def test_a_question_gets_the_knowledge_base_answer(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Анна", "Ковалёва")
    event = anna.text("какой у меня баланс")
    vk.enqueue(event)
    [reply, *_] = await vk.wait_sent(anna.user_id, timeout=30)
    assert "баланс" in reply.text.lower()
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="everything delivered")

    [inbound] = await long_poll_app.messages(anna, "in")
    message_id = event["object"]["message"]["id"]
    assert inbound.channel_message_id == f"{vk.group_id}:{message_id}"
    assert inbound.intent is not None and inbound.intent.startswith("check_balance")
    outbound = await long_poll_app.messages(anna, "out")
    assert [m.text for m in outbound] == [s.text for s in vk.sent(anna.user_id)], "each once"
    conversation = await long_poll_app.conversation(anna)
    assert conversation is not None
    identity = await channel_db.find_identity(long_poll_app.services.db, "vk",
                                              str(anna.user_id))
    assert identity is not None and identity.display_name == "Анна Ковалёва", "from users.get"
    [send] = vk.calls("messages.send")
    assert send.params["peer_id"] == str(anna.user_id)
    [row] = await long_poll_app.outbox(anna)
    assert send.params["random_id"] == str(random_id(row.id, 0, send.params["message"])), \
        "derived from the outbox row"


async def test_vks_start_button_greets_and_a_keyboard_press_is_answered_by_its_payload(
    long_poll_app: VkApp,
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.enqueue(anna.text("Начать", payload={"command": "start"}))
    [greeting] = await vk.wait_sent(anna.user_id, timeout=30)
    assert greeting.text.startswith("Здравствуйте")
    support = pressable(greeting)["/support_contacts"]

    vk.enqueue(anna.button(support["label"], support["payload"]))
    _, answer = await vk.wait_sent(anna.user_id, 2)
    assert "0890" in answer.text
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="everything delivered")
    start, press = await long_poll_app.messages(anna, "in")
    assert (start.text, start.payload) == ("/start", None)
    assert press.payload == "/support_contacts" and press.text in ("", support["label"])
    assert press.intent is not None and press.intent.startswith("support_contacts")
    assert_keyboards_valid(vk)


async def test_a_press_on_a_keyboard_sent_before_a_restart_is_answered(
    database_url: str, rasa_server: RasaServer, vk: FakeVkApi
) -> None:
    """The payload travels in the keyboard, and the long poll resumes where it stopped."""
    anna = new_vk_user()
    async with running_vk_app(database_url, rasa_server, vk) as before:
        vk.enqueue(anna.text("/help"))
        [help_reply] = await vk.wait_sent(anna.user_id, timeout=30)
        await vk.wait_for(lambda: before.delivered(anna), what="everything delivered")
    payload, button = next(iter(pressable(help_reply).items()))
    vk.enqueue(anna.button(button["label"], button["payload"]))  # while the app is down

    async with running_vk_app(database_url, rasa_server, vk) as after:
        await vk.wait_sent(anna.user_id, 2, timeout=30)
        await vk.wait_for(lambda: after.delivered(anna), what="everything delivered")
        first, press = await after.messages(anna, "in")
        assert (first.text, press.payload) == ("/help", payload)
    assert len(vk.sent(anna.user_id)) == 2, "the /help reply was not sent again"


async def test_a_photo_gets_the_text_only_answer_and_stays_in_the_transcript(
    long_poll_app: VkApp,
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.enqueue(anna.photo())
    [reply] = await vk.wait_sent(anna.user_id, timeout=30)
    assert "только текстовые" in reply.text
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="everything delivered")
    [inbound] = await long_poll_app.messages(anna, "in")
    assert inbound.attachments == {"kinds": ["photo"]}
    assert inbound.text == ""


@pytest.mark.parametrize("content", ["sticker", "voice", "wall"])
async def test_other_content_gets_the_text_only_answer(
    long_poll_app: VkApp, content: str
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.enqueue(getattr(anna, content)())
    [reply] = await vk.wait_sent(anna.user_id, timeout=30)
    assert "только текстовые" in reply.text
    [inbound] = await long_poll_app.messages(anna, "in")
    assert inbound.attachments is not None and len(inbound.attachments["kinds"]) == 1


async def test_group_chats_edits_and_our_own_replies_get_no_answer_and_store_nothing(
    long_poll_app: VkApp,
) -> None:
    vk = long_poll_app.api
    anna, boris, dora = new_vk_user(), new_vk_user("Борис"), new_vk_user("Дора")
    vk.enqueue(anna.in_chat("какой у меня баланс"))
    vk.enqueue(boris.edit("исправленный вопрос"))
    marker = vk.enqueue(dora.text("/help"))
    await vk.wait_sent(dora.user_id, timeout=30)
    await vk.wait_for(lambda: long_poll_app.delivered(dora), what="Dora served")
    echoes = vk.current_ts  # the fake echoes our replies as message_reply events
    await vk.wait_for(lambda: _past(long_poll_app, max(marker, echoes - 1)),
                      what="every event read, our echoes too")

    db = long_poll_app.services.db
    for user in (anna, boris):
        assert await channel_db.find_identity(db, "vk", str(user.user_id)) is None
        assert await long_poll_app.messages(user) == []
    assert vk.sent(CHAT_PEER_ID) == [] and vk.sent(anna.user_id) == []
    assert vk.sent(boris.user_id) == []
    assert [m.text for m in await long_poll_app.messages(dora, "in")] == ["/help"], \
        "our own replies (message_reply) were not taken for Dora's messages"


async def _past(app: VkApp, number: int) -> bool:
    return await position(app) > number


async def test_order_is_kept_per_peer_across_a_rate_limit_retry(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.fail_next("messages.send", error_code=6)
    vk.enqueue(anna.text("/start"))
    vk.enqueue(anna.text("/help"))
    first, second = await vk.wait_sent(anna.user_id, 2, timeout=30)
    assert first.text.startswith("Здравствуйте"), "the reply that met error 6 is first"
    assert second.text.startswith("Вот с чем я могу помочь")
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="outbox done")

    sends = vk.calls("messages.send")
    [refused] = [c for c in sends if c.error == 6]
    assert refused.params["random_id"] == str(first.random_id), "retried with the same random_id"
    assert first.at - refused.at >= 0.9, "the pause for error 6 was kept"
    assert [c.params["message"] for c in sends] == [first.text, first.text, second.text]
    assert [(row.status, row.attempts) for row in await long_poll_app.outbox(anna)] == [
        ("sent", 2), ("sent", 1)]


async def test_one_peers_rate_limit_does_not_hold_up_another(long_poll_app: VkApp) -> None:
    vk, anna, boris = long_poll_app.api, new_vk_user(), new_vk_user("Борис")
    vk.fail_next("messages.send", error_code=9)  # flood control: 30 s for Anna's reply
    vk.enqueue(anna.text("/help"))
    await vk.wait_for(lambda: vk.calls("messages.send"), timeout=30, what="Anna's try")
    vk.enqueue(boris.text("/help"))
    await vk.wait_sent(boris.user_id, timeout=15)
    assert vk.sent(anna.user_id) == []
    [row] = await long_poll_app.outbox(anna)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error is not None
    assert "[9]" in row.last_error


async def test_an_event_delivered_twice_is_answered_once(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    event = anna.text("какой у меня баланс")
    vk.enqueue(event)
    again = vk.enqueue(event)  # e.g. a long poll replayed from an earlier ts
    await vk.wait_sent(anna.user_id, timeout=30)
    await vk.wait_for(lambda: _past(long_poll_app, again), what="both read")
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="outbox done")
    assert len(await long_poll_app.messages(anna, "in")) == 1
    replies = [m.text for m in await long_poll_app.messages(anna, "out")]
    assert [s.text for s in vk.sent(anna.user_id)] == replies and replies, "each reply once"
    assert len(vk.calls("messages.send")) == len(replies)


@pytest.mark.parametrize("failed", [1, 2, 3])
async def test_a_long_poll_failure_is_survived(long_poll_app: VkApp, failed: int) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    await vk.wait_for(lambda: vk.held_polls, timeout=15, what="the app polling")
    if failed == 2:
        vk.expire_key()
    else:
        vk.fail_next_poll(failed)
    await vk.wait_for(lambda: any(p.failed == failed for p in vk.polls), what="the failure")
    await vk.wait_for(lambda: vk.held_polls, what="polling again")
    servers = len(vk.calls("groups.getLongPollServer"))
    assert servers == (1 if failed == 1 else 2), "a new key only when the key is gone"

    vk.enqueue(anna.text("какой у меня баланс"))
    [reply, *_] = await vk.wait_sent(anna.user_id, timeout=15)
    assert "баланс" in reply.text.lower()
    if failed == 3:
        assert vk.polls[-1].key != vk.polls[0].key


async def test_every_keyboard_the_app_sends_is_valid_by_vks_rules(
    long_poll_app: VkApp,
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    questions = ["/start", "/help", "хочу в роуминг", "какой у меня баланс", "спасибо"]
    for count, question in enumerate(questions, 1):
        vk.enqueue(anna.text(question))
        await vk.wait_for(functools.partial(_answered, long_poll_app, anna, count),
                          timeout=30, what=f"{question!r} answered")
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="outbox done")
    assert_keyboards_valid(vk)
    sent = vk.sent(anna.user_id)
    keyboards = [s.keyboard for s in sent if s.keyboard is not None]
    assert keyboards, "at least one reply had buttons"
    for keyboard in keyboards:
        assert keyboard["inline"] is True
        rows = keyboard["buttons"]
        assert 1 <= len(rows) <= 6 and sum(map(len, rows)) <= 10
        assert all(1 <= len(row) <= 5 for row in rows)
    assert all(c.error is None for c in vk.calls("messages.send"))


async def _answered(app: VkApp, user: VkUser, count: int) -> bool:
    inbound = await app.messages(user, "in")
    return len(inbound) >= count and all(m.processed_at is not None for m in inbound)


async def test_the_app_asks_for_a_person_on_vk(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.enqueue(anna.text("/operator"))
    await vk.wait_sent(anna.user_id, timeout=30)
    conversation = await long_poll_app.conversation(anna)
    assert conversation is not None
    assert conversation.state == ConversationState.WAITING_AGENT
