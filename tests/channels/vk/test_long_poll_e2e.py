"""VK in Long Poll mode end to end: the real app (real Rasa model, real database) polls the fake
VK API through its own loop and answers through the outbox with the real vk-api client."""

from __future__ import annotations

import pytest

from tests.channels.vk.events import new_vk_user
from tests.support.vk import VkApp

pytestmark = pytest.mark.rasa


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
