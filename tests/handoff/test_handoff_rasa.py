"""The whole handoff path with the real Rasa model: a web chat subscriber asks for a person,
the handoff waits with its context card, an agent claims and replies, the subscriber gets the
reply through ``GET /api/webchat/updates``, the agent closes, the subscriber rates, the stats
show it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.app import new_user
from tests.support.desk import Agent, Desk
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa


def item_of(queue: dict[str, Any], conversation_id: str) -> dict[str, Any] | None:
    return next(
        (i for i in queue["waiting"] + queue["active"] if i["conversation_id"] == conversation_id),
        None,
    )


async def replies_after(desk: Desk, user: str, cursor: str, *, count: int) -> dict[str, Any]:
    async def enough() -> dict[str, Any] | None:
        update = await desk.updates(user, cursor, wait=1)
        return update if len(update["replies"]) >= count else None

    return await eventually(enough)


async def test_from_asking_for_a_person_to_the_rating(rasa_desk: Desk) -> None:
    desk, user = rasa_desk, new_user()
    first = await desk.say(user, "какой у меня баланс")
    assert first["state"] == "bot"
    answer = await desk.say(user, "позовите оператора")
    assert answer["state"] == "waiting_agent"
    waiting = answer["replies"][-1]
    assert "очереди: 1" in waiting["text"]
    assert any(b["payload"] == "/cancel" for b in waiting["buttons"])
    conversation = answer["conversation_id"]

    # no login: 401
    assert (await desk.http.get("/api/desk/queue")).status_code == 401

    anna = await desk.create_agent("anna")
    boris = await desk.create_agent("boris")
    sofia = await desk.create_agent("sofia", role="supervisor")
    item = item_of(await desk.queue(anna), conversation)
    assert item is not None and item["status"] == "waiting"
    card = item["card"]
    assert card["reason"] == "subscriber_request"
    intents = [seen["intent"] for seen in card["intents"]]
    assert any(i.startswith("check_balance") for i in intents)
    assert any(i.startswith("human_request") for i in intents)
    assert all(0 < seen["confidence"] <= 1 for seen in card["intents"])
    assert card["topic"].startswith("check_balance")
    assert "transcript" not in card  # the queue stays light: the transcript loads when opened
    detail = (await desk.http.get(f"/api/desk/conversations/{conversation}",
                                  headers=anna.headers)).json()
    said = [m["text"] for m in detail["card"]["transcript"] if m["sender"] == "subscriber"]
    assert said == ["какой у меня баланс", "позовите оператора"]
    assert any(m["sender"] == "bot" for m in detail["card"]["transcript"])

    # claim: one winner; the subscriber is told an agent joined
    first_claim, second_claim = await asyncio.gather(
        desk.post(anna, conversation, "claim"), desk.post(boris, conversation, "claim")
    )
    assert sorted([first_claim.status_code, second_claim.status_code]) == [200, 409]
    owner = anna if first_claim.status_code == 200 else boris
    other = boris if owner is anna else anna
    joined = await replies_after(desk, user, answer["cursor"], count=1)
    assert joined["state"] == "with_agent"

    # the supervisor sees it with its owner; the other agent does not
    seen_by_supervisor = item_of(await desk.queue(sofia), conversation)
    assert seen_by_supervisor is not None and seen_by_supervisor["agent"] == owner.username
    assert item_of(await desk.queue(other), conversation) is None

    # the reply reaches the subscriber through the web chat
    sent = await desk.post(owner, conversation, "messages",
                           {"text": "Ваш баланс 12,50 BYN. Чем ещё помочь?"})
    assert sent.status_code == 201
    reply = await replies_after(desk, user, joined["cursor"], count=1)
    assert [(r["sender"], r["text"]) for r in reply["replies"]] == [
        ("agent", "Ваш баланс 12,50 BYN. Чем ещё помочь?")]

    # the subscriber's answer goes to the agent, not to the bot
    back = await desk.say(user, "спасибо, это всё")
    assert back["state"] == "with_agent" and back["replies"] == []

    # close: the rating question; "5" is stored
    closed = await desk.post(owner, conversation, "close", {"resolution": "told the balance"})
    assert closed.status_code == 200
    closing = await replies_after(desk, user, reply["cursor"], count=2)
    assert closing["state"] == "closed"
    assert "от 1" in closing["replies"][-1]["text"]
    rated = await desk.say(user, "5")
    assert "Спасибо за оценку" in rated["replies"][0]["text"]
    detail = (await desk.http.get(f"/api/desk/conversations/{conversation}",
                                  headers=sofia.headers)).json()
    assert detail["rating"] == 5 and detail["wait_seconds"] is not None

    stats = await desk.stats(sofia)
    today = stats["today"]
    assert today["handoffs"] == 1 and today["answered_within_target"] == 1
    assert today["share_answered_within_target"] == 1.0
    assert today["csat_average"] == 5.0 and today["csat_count"] == 1
    assert today["median_wait_seconds"] == pytest.approx(detail["wait_seconds"], abs=0.1)


async def test_cancel_while_waiting_returns_to_the_bot(rasa_desk: Desk) -> None:
    desk, user = rasa_desk, new_user()
    answer = await desk.say(user, "соедините с живым человеком")
    assert answer["state"] == "waiting_agent"
    cancelled = await desk.say(user, "отмена")
    assert cancelled["state"] == "bot"
    assert "отменён" in cancelled["replies"][0]["text"]
    again = await desk.say(user, "какой у меня баланс")
    assert again["state"] == "bot", "the bot answers again"
    agent: Agent = await desk.create_agent("anna")
    assert item_of(await desk.queue(agent), answer["conversation_id"]) is None


async def test_a_complaint_goes_to_a_person_as_a_complaint(rasa_desk: Desk) -> None:
    desk = rasa_desk
    answer = await desk.say(new_user(), "хочу оставить жалобу")
    assert answer["state"] == "waiting_agent"
    supervisor = await desk.create_agent("sofia", role="supervisor")
    item = item_of(await desk.queue(supervisor), answer["conversation_id"])
    assert item is not None and item["reason"] == "complaint"
    assert item["priority"] > 0


async def test_an_outburst_in_english_goes_to_a_person_first_in_line(rasa_desk: Desk) -> None:
    desk = rasa_desk
    calm = await desk.say(new_user(), "позовите оператора")
    angry = await desk.say(new_user(), "I hate you, worst service ever, you are thieves!!!")
    assert angry["state"] == "waiting_agent"
    assert "sorry" in angry["replies"][0]["text"].lower()
    supervisor = await desk.create_agent("sofia", role="supervisor")
    waiting = [i["conversation_id"] for i in (await desk.queue(supervisor))["waiting"]]
    assert waiting.index(angry["conversation_id"]) < waiting.index(calm["conversation_id"])
