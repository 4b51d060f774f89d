"""Telegram in polling mode end to end: the real app (real Rasa model, real database) polls the
fake Bot API through the real aiogram client, and answers through the outbox."""

from __future__ import annotations

import pytest

from bot.storage import ConversationState
from tests.support.telegram import TelegramApp, new_telegram_user

pytestmark = pytest.mark.rasa


async def test_a_question_gets_the_knowledge_base_answer(polling_app: TelegramApp) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.enqueue(anna.text("какой у меня баланс"))
    [reply, *_] = await api.wait_sent(anna.id)
    assert "баланс" in reply.text.lower()
    assert reply.parse_mode == "HTML"
    await api.wait_for(lambda: polling_app.delivered(anna), what="everything delivered")

    [inbound] = await polling_app.messages(anna, "in")
    assert inbound.channel_message_id == f"{anna.id}:1"
    assert inbound.intent is not None and inbound.intent.startswith("check_balance")
    assert inbound.meta is not None and inbound.meta["chat_type"] == "private"
    outbound = await polling_app.messages(anna, "out")
    assert [m.text for m in outbound] == [s.text for s in api.sent(anna.id)], "each reply once"


async def test_a_button_press_is_answered_and_its_spinner_stopped(
    polling_app: TelegramApp,
) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.enqueue(anna.text("/start"))
    [greeting] = await api.wait_sent(anna.id)
    assert greeting.reply_markup is not None
    buttons = [row[0] for row in greeting.reply_markup["inline_keyboard"]]
    support = next(b for b in buttons if b["callback_data"] == "/support_contacts")

    press = anna.press(support["callback_data"], on_message=greeting.message_id,
                       title=support["text"])
    api.enqueue(press)
    _, answer = await api.wait_sent(anna.id, 2)
    assert "0890" in answer.text
    query_id = press["callback_query"]["id"]
    await api.wait_for(lambda: [c for c in api.calls("answerCallbackQuery")
                                if c.params.get("callback_query_id") == query_id],
                       what="answerCallbackQuery")


async def test_operator_command_hands_the_conversation_to_a_person(
    polling_app: TelegramApp,
) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.enqueue(anna.text("/operator"))
    await api.wait_sent(anna.id)
    conversation = await polling_app.conversation(anna)
    assert conversation is not None
    assert conversation.state == ConversationState.WAITING_AGENT


async def test_a_contact_is_accepted_from_its_owner_and_refused_when_forwarded(
    polling_app: TelegramApp,
) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.enqueue(anna.contact("+375 29 765-43-21", owner=anna.id + 1))  # someone else's card
    [refused] = await api.wait_sent(anna.id)
    assert "собственный номер" in refused.text
    identity = await polling_app.identity(anna)
    assert identity is not None and identity.verified_phone is None

    api.enqueue(anna.contact("375291234567", owner=anna.id))
    _, accepted = await api.wait_sent(anna.id, 2)
    assert "подтверждён" in accepted.text
    identity = await polling_app.identity(anna)
    assert identity is not None and identity.verified_phone == "+375291234567"


async def test_a_photo_gets_the_text_only_answer_and_stays_in_the_transcript(
    polling_app: TelegramApp,
) -> None:
    api, anna = polling_app.api, new_telegram_user()
    api.enqueue(anna.photo())
    [reply] = await api.wait_sent(anna.id)
    assert "только текстовые" in reply.text
    [inbound] = await polling_app.messages(anna, "in")
    assert inbound.attachments == {"kinds": ["photo"]}


async def test_edits_and_group_messages_are_not_answered(polling_app: TelegramApp) -> None:
    api, anna = polling_app.api, new_telegram_user()
    group_id = -100_000_000_000 - anna.id
    api.enqueue(anna.in_group("какой у меня баланс", group_id=group_id))
    api.enqueue(anna.edited(1, "исправленный вопрос"))
    last = api.enqueue(anna.text("/help"))
    await api.wait_sent(anna.id)  # the updates before /help were handled before it
    await api.wait_for(lambda: api.confirmed_offset > last or api.pending_updates() == [],
                       what="all updates acknowledged")
    assert [m.text for m in await polling_app.messages(anna, "in")] == ["/help"]
    assert api.sent(group_id) == []
