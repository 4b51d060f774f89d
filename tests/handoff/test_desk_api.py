"""The desk API through the real app and database, with the NLU down (no Rasa needed): a
message no keyword knows is not understood, and the second such message in a row escalates with
``nlu_unavailable``; an outburst escalates before the NLU matters.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
from sqlalchemy import select

from handoff.tables import Handoff
from tests.support.app import new_user
from tests.support.desk import Agent, Desk
from tests.support.waiting import eventually

UNKNOWN = "у меня странная проблема"  # no keyword the bot knows while the NLU is down


async def escalated(desk: Desk, text: str = UNKNOWN) -> tuple[str, str, dict[str, Any]]:
    """A new subscriber whose message lands in the queue: (user, conversation, answer)."""
    user = new_user()
    answer = await desk.say(user, text)
    if answer["state"] != "waiting_agent":  # not understood once: the second time hands over
        answer = await desk.say(user, text)
    assert answer["state"] == "waiting_agent"
    return user, answer["conversation_id"], answer


async def conversation_of(desk: Desk, agent: Agent, conversation_id: str) -> dict[str, Any]:
    response = await desk.http.get(f"/api/desk/conversations/{conversation_id}",
                                   headers=agent.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


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
    # the web chat user_id is the browser's key to the chat: agents see an alias instead
    assert card["identity"]["alias"] and user not in json.dumps(item)
    assert "transcript" not in card, "the queue carries no transcripts"
    detail = await conversation_of(desk_app, agent, conversation)
    texts = [(m["sender"], m["text"]) for m in detail["card"]["transcript"]]
    assert ("subscriber", UNKNOWN) in texts
    assert any(sender == "bot" and "0890" in text for sender, text in texts)
    assert UNKNOWN in item["summary"]


async def test_while_waiting_messages_go_to_the_handoff(desk_app: Desk) -> None:
    user, conversation, _ = await escalated(desk_app)
    first = await desk_app.say(user, "у меня списали деньги")
    assert first["state"] == "waiting_agent"
    assert len(first["replies"]) == 1, "one acknowledgement, no bot answer"
    second = await desk_app.say(user, "алло?")
    assert second["replies"] == [], "acknowledged once, then quiet"
    agent = await desk_app.create_agent("anna")
    assert item_of(await desk_app.queue(agent), conversation) is not None
    detail = await conversation_of(desk_app, agent, conversation)
    assert [m["text"] for m in detail["card"]["transcript"]
            if m["sender"] == "subscriber"][-2:] == ["у меня списали деньги", "алло?"]


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
    assert (await desk_app.post(anna, "0" * 32, "claim")).status_code == 404  # no such one
    malformed = await desk_app.post(anna, "nope%00", "claim")  # not an id: refused unread
    assert malformed.status_code == 422
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
    await desk_app.say(user2, payload="/human_request", lang="en")
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
    _, calm, _ = await escalated(desk_app)
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


async def test_one_address_may_open_only_a_few_handoffs(desk_app: Desk) -> None:
    """WEBCHAT_MAX_OPEN_HANDOFFS_PER_IP (3 by default): the next request for a person from the
    same client address gets the handoff_limit answer and nothing reaches the queue."""
    cap = desk_app.services.settings.webchat_max_open_handoffs_per_ip
    assert cap == 3
    first = new_user()
    for user in [first] + [new_user() for _ in range(cap - 1)]:
        assert (await desk_app.say(user, payload="/human_request"))["state"] == "waiting_agent"
    extra = new_user()
    refused = await desk_app.say(extra, payload="/human_request")
    assert refused["state"] == "bot"
    assert "слишком много обращений" in refused["replies"][-1]["text"]
    assert "0890" in refused["replies"][-1]["text"], "told where else to get help"

    supervisor = await desk_app.create_agent("sofia", role="supervisor")
    queue = await desk_app.queue(supervisor)
    assert item_of(queue, refused["conversation_id"]) is None
    assert len(queue["waiting"]) == cap

    # another client address is not affected
    async with httpx.AsyncClient(
        base_url=desk_app.url, timeout=30,
        transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
    ) as other:
        response = await other.post("/api/webchat/messages",
                                    json={"user_id": new_user(), "payload": "/human_request"})
        assert response.status_code == 200 and response.json()["state"] == "waiting_agent"

    # the address is kept on the handoff for the count, and never shown to agents
    async with desk_app.services.db.sessions() as session:
        addresses = sorted((await session.scalars(select(Handoff.client_address))).all())
    assert addresses == ["127.0.0.1"] * cap + ["127.0.0.2"]
    queue = await desk_app.queue(supervisor)
    detail = await conversation_of(desk_app, supervisor, queue["waiting"][0]["conversation_id"])
    for shown in (json.dumps(queue), json.dumps(detail)):
        assert "127.0.0." not in shown and "client_address" not in shown

    # a cancelled handoff frees a place
    assert (await desk_app.say(first, payload="/cancel"))["state"] == "bot"
    again = await desk_app.say(extra, payload="/human_request")
    assert again["state"] == "waiting_agent"


UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def times_in(value: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (key, value) in a JSON document that looks like a timestamp."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in times_in(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v, key)]
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
        return [(key, value)]
    return []


async def test_every_time_in_the_desk_api_is_utc_with_an_offset(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    assert (await desk_app.post(anna, conversation, "messages", {"text": "Hi"})).status_code == 201
    assert (await desk_app.post(anna, conversation, "notes", {"text": "n"})).status_code == 201
    queue = await desk_app.queue(anna)
    detail = await conversation_of(desk_app, anna, conversation)
    stats = await desk_app.stats(anna)
    found = times_in(queue) + times_in(detail) + times_in(stats)
    keys = {key for key, _ in found}
    # the kinds of times the desk shows: queue, card, transcript, notes, stats
    assert {"generated_at", "created_at", "claimed_at", "first_reply_at", "escalated_at", "at",
            "since"} <= keys
    assert [(k, v) for k, v in found if not UTC_TIME.match(v)] == []
