"""The desk API through the real app and database, with the NLU down (no Rasa needed): every
first message escalates with ``nlu_unavailable``; an outburst escalates before the NLU matters.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from handoff.models import Handoff
from tests.handoff.conftest import Desk, eventually, new_user


async def escalated(
    desk: Desk, text: str = "какой у меня баланс"
) -> tuple[str, str, dict[str, Any]]:
    """A new subscriber whose first message lands in the queue: (user, conversation, answer)."""
    user = new_user()
    answer = await desk.say(user, text)
    assert answer["state"] == "waiting_agent"
    return user, answer["conversation_id"], answer


def item_of(queue: dict[str, Any], conversation_id: str) -> dict[str, Any] | None:
    return next(
        (i for i in queue["waiting"] + queue["active"] if i["conversation_id"] == conversation_id),
        None,
    )


async def test_escalation_puts_a_handoff_with_its_card_in_the_queue(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    waiting = answer["replies"][-1]
    assert "1" in waiting["text"] and "мин" in waiting["text"], "queue position and a wait"
    assert {"title": "Отменить", "payload": "/cancel"} in waiting["buttons"]
    agent = await desk_app.create_agent("anna")
    item = item_of(await desk_app.queue(agent), conversation)
    assert item is not None and item["status"] == "waiting" and item["position"] == 1
    card = item["card"]
    assert card["reason"] == item["reason"] == "nlu_unavailable"
    assert card["channel"] == "webchat" and card["lang"] == "ru"
    assert card["identity"]["channel_user_id"] == user
    texts = [(m["sender"], m["text"]) for m in card["transcript"]]
    assert ("subscriber", "какой у меня баланс") in texts
    assert any(sender == "bot" and "0890" in text for sender, text in texts)
    assert "какой у меня баланс" in item["summary"]


async def test_while_waiting_messages_go_to_the_handoff(desk_app: Desk) -> None:
    user, conversation, _ = await escalated(desk_app)
    first = await desk_app.say(user, "у меня списали деньги")
    assert first["state"] == "waiting_agent"
    assert len(first["replies"]) == 1, "one acknowledgement, no bot answer"
    second = await desk_app.say(user, "алло?")
    assert second["replies"] == [], "acknowledged once, then quiet"
    agent = await desk_app.create_agent("anna")
    item = item_of(await desk_app.queue(agent), conversation)
    assert item is not None
    assert [m["text"] for m in item["card"]["transcript"] if m["sender"] == "subscriber"][-2:] == [
        "у меня списали деньги", "алло?"]


async def test_claim_reply_close_rate_and_stats(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    cursor = answer["cursor"]
    agent = await desk_app.create_agent("anna")

    claimed = await desk_app.post(agent, conversation, "claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["state"] == "with_agent"
    joined = await desk_app.updates(user, cursor, wait=5)
    assert joined["state"] == "with_agent"
    assert any("Anna" in r["text"] for r in joined["replies"]), "told that an agent joined"
    cursor = joined["cursor"]

    sent = await desk_app.post(agent, conversation, "messages",
                               {"text": "Здравствуйте! Проверяю."})
    assert sent.status_code == 201, sent.text
    reply = await desk_app.updates(user, cursor, wait=5)
    assert [(r["text"], r["sender"]) for r in reply["replies"]] == [
        ("Здравствуйте! Проверяю.", "agent")]
    cursor = reply["cursor"]

    # the subscriber writes back: it goes to the agent, the bot stays quiet
    back = await desk_app.say(user, "спасибо, жду")
    assert back["state"] == "with_agent" and back["replies"] == []

    closed = await desk_app.post(agent, conversation, "close", {"resolution": "explained"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    end = await eventually(lambda: _two_replies(desk_app, user, cursor))
    assert end["state"] == "closed"
    assert "завершён" in end["replies"][0]["text"]
    question = end["replies"][1]
    assert "от 1" in question["text"]
    assert [b["title"] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]

    thanks = await desk_app.say(user, "5")
    assert "Спасибо за оценку" in thanks["replies"][0]["text"]
    detail = (await desk_app.http.get(f"/api/desk/conversations/{conversation}",
                                      headers=agent.headers)).json()
    assert detail["rating"] == 5 and detail["resolution"] == "explained"
    assert detail["status"] == "closed" and 0 <= detail["wait_seconds"] < 60

    stats = await desk_app.stats(agent)
    for period in ("today", "last_7_days"):
        figures = stats[period]
        assert figures["handoffs"] == 1 and figures["answered"] == 1
        assert figures["answered_within_target"] == 1
        assert figures["share_answered_within_target"] == 1.0
        assert figures["median_wait_seconds"] is not None
        assert figures["csat_average"] == 5.0 and figures["csat_count"] == 1
        assert figures["abandoned"] == 0
    assert stats["target_seconds"] == 180

    # a new message after the rating starts a fresh conversation with the bot
    later = await desk_app.say(user, "ещё вопрос")
    assert later["conversation_id"] != conversation


async def _two_replies(desk: Desk, user: str, cursor: str) -> dict[str, Any] | None:
    update = await desk.updates(user, cursor, wait=1)
    return update if len(update["replies"]) >= 2 else None


async def test_two_agents_claiming_at_once_one_wins(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna, boris = await desk_app.create_agent("anna"), await desk_app.create_agent("boris")
    first, second = await asyncio.gather(
        desk_app.post(anna, conversation, "claim"), desk_app.post(boris, conversation, "claim")
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = "anna" if first.status_code == 200 else "boris"
    again = await desk_app.post(anna, conversation, "claim")
    assert again.status_code == 409
    assert winner in again.json()["detail"]
    async with desk_app.services.db.sessions() as session:
        rows = (await session.scalars(select(Handoff))).all()
    assert len(rows) == 1 and rows[0].status == "active"


async def test_agents_see_their_own_and_supervisors_see_everything(desk_app: Desk) -> None:
    _, mine, _ = await escalated(desk_app)
    _, other, _ = await escalated(desk_app)
    anna, boris = await desk_app.create_agent("anna"), await desk_app.create_agent("boris")
    supervisor = await desk_app.create_agent("sofia", role="supervisor")
    assert (await desk_app.post(anna, mine, "claim")).status_code == 200

    boris_queue = await desk_app.queue(boris)
    assert item_of(boris_queue, mine) is None, "another agent's conversation is not shown"
    assert item_of(boris_queue, other) is not None, "the waiting queue is shared"
    assert (await desk_app.http.get(f"/api/desk/conversations/{mine}",
                                    headers=boris.headers)).status_code == 403
    assert (await desk_app.post(boris, mine, "messages", {"text": "hi"})).status_code == 403
    assert (await desk_app.post(boris, mine, "close", {"resolution": ""})).status_code == 403

    overview = await desk_app.queue(supervisor)
    assert item_of(overview, mine)["agent"] == "anna"  # type: ignore[index]
    assert item_of(overview, other) is not None
    joined = await desk_app.post(supervisor, mine, "messages", {"text": "Supervisor here."})
    assert joined.status_code == 201, "a supervisor can join a conversation"
    closed = await desk_app.post(supervisor, other, "close", {"resolution": "spam"})
    assert closed.status_code == 200


async def test_state_rules_give_clear_conflicts(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    early = await desk_app.post(anna, conversation, "messages", {"text": "hello"})
    assert early.status_code == 409 and "claim" in early.json()["detail"]
    assert (await desk_app.post(anna, "nope", "claim")).status_code == 404
    assert (await desk_app.post(anna, conversation, "messages", {"text": "  "})).status_code == 422
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    assert (await desk_app.post(anna, conversation, "close")).status_code == 200
    assert (await desk_app.post(anna, conversation, "close")).status_code == 409
    assert (await desk_app.post(anna, conversation, "return-to-bot")).status_code == 409


async def test_cancel_while_waiting_goes_back_to_the_bot(desk_app: Desk) -> None:
    user, conversation, _ = await escalated(desk_app)
    cancelled = await desk_app.say(user, "отмена")
    assert cancelled["state"] == "bot"
    assert "отменён" in cancelled["replies"][0]["text"]
    anna = await desk_app.create_agent("anna")
    assert item_of(await desk_app.queue(anna), conversation) is None
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 409

    # the button works too, in English
    user2 = new_user()
    await desk_app.say(user2, "what is my balance", lang="en")
    by_button = await desk_app.say(user2, payload="/cancel")
    assert by_button["state"] == "bot"
    assert "cancelled" in by_button["replies"][0]["text"]

    stats = await desk_app.stats(anna)
    assert stats["today"]["handoffs"] == 2 and stats["today"]["abandoned"] == 2
    assert stats["today"]["share_answered_within_target"] is None, "cancelled at once: no verdict"


async def test_return_to_bot(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    returned = await desk_app.post(anna, conversation, "return-to-bot")
    assert returned.status_code == 200 and returned.json()["state"] == "bot"
    update = await eventually(lambda: _mentions(desk_app, user, answer["cursor"], "вернул"))
    assert update["state"] == "bot"
    assert item_of(await desk_app.queue(anna), conversation) is None


async def _mentions(desk: Desk, user: str, cursor: str, word: str) -> dict[str, Any] | None:
    update = await desk.updates(user, cursor, wait=1)
    return update if any(word in r["text"] for r in update["replies"]) else None


async def test_notes_are_internal(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    note = await desk_app.post(anna, conversation, "notes", {"text": "abroad, check roaming"})
    assert note.status_code == 201
    detail = (await desk_app.http.get(f"/api/desk/conversations/{conversation}",
                                      headers=anna.headers)).json()
    assert [(n["agent"], n["text"]) for n in detail["notes"]] == [("anna", "abroad, check roaming")]
    update = await desk_app.updates(user, answer["cursor"], wait=0)
    assert all("roaming" not in r["text"] for r in update["replies"])


async def test_an_outburst_escalates_and_jumps_the_queue(desk_app: Desk) -> None:
    _, calm, _ = await escalated(desk_app, "какой у меня баланс")
    outburst = "Вы меня достали, верните деньги, мошенники!!!"
    _, angry, answer = await escalated(desk_app, outburst)
    texts = [r["text"] for r in answer["replies"]]
    assert any("жаль" in t for t in texts)
    assert "1" in texts[-1], "told they are first in line"
    anna = await desk_app.create_agent("anna")
    queue = await desk_app.queue(anna)
    assert [i["conversation_id"] for i in queue["waiting"]] == [angry, calm]
    top = queue["waiting"][0]
    assert top["reason"] == "negative_sentiment"
    assert top["card"]["sentiment"]["label"] == "strongly_negative"
    assert top["priority"] > queue["waiting"][1]["priority"]
    assert [i["position"] for i in queue["waiting"]] == [1, 2]
