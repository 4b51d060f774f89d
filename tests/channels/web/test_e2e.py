"""The web chat API end to end: real app on loopback, real Rasa with the trained model, real DB."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from bot.storage import Identity, Message, OutboxItem
from tests.support.app import RunningApp, new_user

pytestmark = pytest.mark.rasa


async def test_balance_question_in_russian(running_app: RunningApp) -> None:
    answer = await running_app.say(new_user(), "какой у меня баланс")
    assert answer["state"] == "bot"
    text = answer["replies"][0]["text"]
    assert "баланс" in text.lower()


async def test_roaming_trouble_in_poland_in_english(running_app: RunningApp) -> None:
    answer = await running_app.say(new_user(), "I'm in Poland and mobile data doesn't work")
    text = " ".join(r["text"] for r in answer["replies"])
    assert "Poland" in text
    assert "+375 29 7770890" in text


async def test_support_from_a_landline(running_app: RunningApp) -> None:
    answer = await running_app.say(new_user(), "как позвонить в поддержку с городского")
    assert "8 017 237-98-98" in answer["replies"][0]["text"]


async def test_asking_for_an_operator_moves_to_waiting_agent(running_app: RunningApp) -> None:
    user = new_user()
    answer = await running_app.say(user, "позовите оператора")
    assert answer["state"] == "waiting_agent"
    assert answer["replies"], "the subscriber is told a person will answer"
    # the bot stops answering by itself: no topic article for a balance question now
    later = await running_app.say(user, "какой у меня баланс")
    assert later["state"] == "waiting_agent"
    assert all("*" not in r["text"] or "7777" in r["text"] for r in later["replies"])
    assert len(later["replies"]) <= 1


async def test_borscht_recipe_gets_a_polite_out_of_scope_answer(running_app: RunningApp) -> None:
    answer = await running_app.say(new_user(), "рецепт борща")
    assert answer["state"] == "bot"
    reply = answer["replies"][0]
    payloads = {b["payload"] for b in reply["buttons"]}
    assert "/check_balance" in payloads, "it says what it can help with"
    assert "баланс" not in reply["text"].lower().split("\n")[0] or reply["buttons"]


async def test_button_press_is_answered(running_app: RunningApp) -> None:
    user = new_user()
    answer = await running_app.http.post(
        "/api/webchat/messages", json={"user_id": user, "payload": "/support_contacts"}
    )
    assert answer.status_code == 200
    assert "0890" in answer.json()["replies"][0]["text"]


async def test_same_message_id_is_answered_once(running_app: RunningApp) -> None:
    user, message_id = new_user(), uuid.uuid4().hex
    opened = await running_app.say(user, "привет")  # the session: its token comes back here
    body = {"user_id": user, "text": "мой номер телефона какой", "message_id": message_id}
    webchat = running_app.webchat
    first, second = await asyncio.gather(webchat.post(body), webchat.post(body))
    third = await webchat.post(body)
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json()["replies"] == second.json()["replies"] == third.json()["replies"]
    async with running_app.services.db.sessions() as session:
        inbound = await session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in",
                                                            Message.identity_id.in_(select(Identity.id).where(Identity.channel == "webchat", Identity.channel_user_id == user)))
        )
        outbound = await session.scalar(
            select(func.count()).select_from(OutboxItem)
            .where(OutboxItem.address == user)
        )
    assert inbound == 2  # the greeting and the one repeated message
    assert outbound == len(opened["replies"]) + len(first.json()["replies"])


async def test_updates_long_poll_returns_replies_after_the_cursor(running_app: RunningApp) -> None:
    user = new_user()
    first = await running_app.say(user, "привет")
    cursor = first["cursor"]
    empty = await running_app.webchat.updates(user, after=cursor, wait=0)
    assert empty["replies"] == []
    waiting = asyncio.create_task(running_app.webchat.updates(user, after=cursor, wait=10))
    await asyncio.sleep(0.3)
    second = await running_app.say(user, "баланс")
    update = await waiting
    assert [r["id"] for r in update["replies"]] == [r["id"] for r in second["replies"]]
    assert int(update["cursor"]) >= int(second["replies"][-1]["id"])


async def test_messages_of_one_user_are_answered_in_order(running_app: RunningApp) -> None:
    user = new_user()
    await running_app.say(user, "добрый день")  # opens the session the three below share
    texts = ["привет", "какой у меня баланс", "спасибо"]
    await asyncio.gather(*(running_app.say(user, t, message_id=str(i)) for i, t in enumerate(texts)))
    async with running_app.services.db.sessions() as session:
        rows = (await session.scalars(
            select(Message).where(Message.identity_id.in_(select(Identity.id).where(Identity.channel == "webchat", Identity.channel_user_id == user))).order_by(Message.id)
        )).all()
        replies = (await session.scalars(
            select(Message).where(Message.reply_to_id.in_([r.id for r in rows]))
            .order_by(Message.id)
        )).all()
    # replies come out in the order the messages were stored
    order = [r.reply_to_id for r in replies]
    assert order == sorted(order)
    assert all(r.processed_at is not None for r in rows)


async def test_each_inbound_message_keeps_its_nlu_result(running_app: RunningApp) -> None:
    user = new_user()
    await running_app.say(user, "сколько денег у меня на счету")
    async with running_app.services.db.sessions() as session:
        row = await session.scalar(
            select(Message).where(Message.identity_id.in_(select(Identity.id).where(Identity.channel == "webchat", Identity.channel_user_id == user)))
        )
    assert row is not None and row.intent is not None
    assert row.intent.startswith("check_balance")
    assert row.nlu is not None and row.nlu["lang"] == "ru"
