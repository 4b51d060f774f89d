"""Replaying a conversation for QA through the real app (SQLite and PostgreSQL): the messages
interleaved, in time order, with the desk's actions and the silences of every handoff, so the
stall shows; who may replay; and that replaying is itself recorded.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

import handoff.audit_views
from handoff.audit import Actor, AuditAction, entry
from tests.handoff.test_audit_trail import LOOPBACK, UNKNOWN, audit, escalated
from tests.support.app import new_user
from tests.support.desk import Agent, Desk, running_desk
from tests.support.waiting import eventually


async def replay(desk: Desk, reader: Agent, conversation_id: str) -> dict[str, Any]:
    response = await desk.http.get(f"/api/desk/conversations/{conversation_id}/replay",
                                   headers=reader.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def kinds(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind]


def position(events: list[dict[str, Any]], **match: Any) -> int:
    return next(i for i, e in enumerate(events) if all(e.get(k) == v for k, v in match.items()))


async def test_replay_interleaves_messages_actions_and_a_long_silence(database_url: str) -> None:
    async with running_desk(database_url, silence_alert_seconds=1) as desk:
        user, conversation, _ = await escalated(desk)
        anna = await desk.create_agent("anna")
        admin = await desk.admin()
        assert (await desk.post(anna, conversation, "claim")).status_code == 200

        # the subscriber waits for a person's answer: past one second it is a long silence
        async def long_and_ongoing() -> dict[str, Any] | None:
            found = await desk.module.audit_views.replay(conversation)  # records nothing
            silences = [e for e in found.body.events if e.kind == "silence"]
            return silences[-1].model_dump() if silences and silences[-1].long else None

        ongoing = await eventually(long_and_ongoing, timeout=15)
        assert ongoing["ongoing"] is True and ongoing["end"] is None
        assert ongoing["seconds"] >= 1 and ongoing["messages"] >= 1

        sent = await desk.post(anna, conversation, "messages", {"text": "Смотрю, минуту."})
        assert sent.status_code == 201, sent.text
        back = await desk.say(user, "спасибо")
        assert back["state"] == "with_agent"
        assert (await desk.post(anna, conversation, "notes", {"text": "тариф"})).status_code == 201
        closed = await desk.post(anna, conversation, "close", {"resolution": "done"})
        assert closed.status_code == 200, closed.text

        body = await replay(desk, admin, conversation)
        assert body["conversation_id"] == conversation and body["channel"] == "webchat"
        assert body["state"] == "closed" and body["lang"] == "ru"
        assert body["silence_alert_seconds"] == 1 and body["truncated"] is False
        events = body["events"]
        times = [when(e["at"]) for e in events]
        assert times == sorted(times), "in time order"

        messages = kinds(events, "message")
        assert [m["text"] for m in messages if m["sender"] == "subscriber"] == [
            UNKNOWN, UNKNOWN, "спасибо"]
        [reply] = [m for m in messages if m["sender"] == "agent"]
        assert reply["text"] == "Смотрю, минуту." and reply["agent"] == "anna"
        assert reply["id"] == sent.json()["id"] and reply["direction"] == "out"
        assert any(m["sender"] == "bot" for m in messages)

        actions = kinds(events, "action")
        assert [a["action"] for a in actions] == ["claim", "reply", "note", "close"]
        assert {a["agent"] for a in actions} == {"anna"}
        assert all("address" not in a for a in actions), "the replay names, never locates"
        assert LOOPBACK not in json.dumps(body)
        assert actions[1]["details"]["message_id"] == reply["id"]

        [first, after_reply] = kinds(events, "silence")
        # the first silence: escalation -> anna's reply, longer than the threshold
        assert first["long"] is True and first["ongoing"] is False
        assert first["end"] == reply["at"] and first["seconds"] >= 1
        assert first["messages"] >= 1 and first["handoff_id"] == actions[0]["handoff_id"]
        # the second: "спасибо", never answered, ended by the close
        assert after_reply["messages"] == 1 and after_reply["ongoing"] is False
        assert after_reply["end"] is not None

        order = [
            position(events, kind="message", text=UNKNOWN),
            position(events, kind="silence", at=first["at"]),
            position(events, kind="action", action="claim"),
            position(events, kind="message", sender="agent"),
            position(events, kind="action", action="reply"),
            position(events, kind="message", text="спасибо"),
            position(events, kind="silence", at=after_reply["at"]),
            position(events, kind="action", action="note"),
            position(events, kind="action", action="close"),
        ]
        assert order == sorted(order), [events[i] for i in order]

        # replaying is itself an "open" in the trail, with who and where
        opened = (await audit(desk, admin, agent="admin", action="open",
                              conversation_id=conversation))["entries"]
        assert len(opened) == 1
        assert opened[0]["details"] == {"replay": True} and opened[0]["address"] == LOOPBACK
        assert opened[0]["handoff_id"] == first["handoff_id"]
        # ... which the next replay shows among the actions
        again = kinds((await replay(desk, admin, conversation))["events"], "action")
        assert again[-1]["action"] == "open" and again[-1]["agent"] == "admin"
        assert again[-1]["details"] == {"replay": True}


async def test_replay_covers_every_handoff_of_the_conversation(desk_app: Desk) -> None:
    user, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    assert (await desk_app.post(anna, conversation, "messages",
                                {"text": "Попробуйте ещё раз с ботом"})).status_code == 201
    returned = await desk_app.post(anna, conversation, "return-to-bot")
    assert returned.status_code == 200, returned.text
    # back with the bot, the subscriber is stuck again: a second handoff, same conversation
    again = await desk_app.say(user, UNKNOWN)
    if again["state"] != "waiting_agent":
        again = await desk_app.say(user, UNKNOWN)
    assert again["state"] == "waiting_agent" and again["conversation_id"] == conversation

    admin = await desk_app.admin()
    events = (await replay(desk_app, admin, conversation))["events"]
    silences = kinds(events, "silence")
    handoffs = list(dict.fromkeys(s["handoff_id"] for s in silences))
    assert len(handoffs) == 2 and handoffs == sorted(handoffs)
    first = [s for s in silences if s["handoff_id"] == handoffs[0]]
    second = [s for s in silences if s["handoff_id"] == handoffs[1]]
    assert first[0]["ongoing"] is False and first[0]["long"] is False  # the default is 120 s
    assert second[-1]["ongoing"] is True and second[-1]["end"] is None
    assert [a["action"] for a in kinds(events, "action")] == ["claim", "reply", "return_to_bot"]
    reply_at = position(events, kind="message", sender="agent")
    assert position(events, kind="silence", handoff_id=handoffs[1]) > reply_at


async def test_a_bot_conversation_replays_without_silences(desk_app: Desk) -> None:
    answer = await desk_app.say(new_user(), "привет")
    admin = await desk_app.admin()
    body = await replay(desk_app, admin, answer["conversation_id"])
    assert body["state"] == "bot" and kinds(body["events"], "silence") == []
    assert kinds(body["events"], "message")[0]["sender"] == "subscriber"


async def test_a_long_conversation_replays_its_latest_part(
    desk_app: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay holds the latest REPLAY_LIMIT messages (2000; 4 here) and says so; the
    actions before that stretch are left out with it."""
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    async with desk_app.services.db.transaction() as session:
        old = entry(Actor(None, "10.1.2.3", "qa-olga"), AuditAction.OPEN,
                    conversation_id=conversation)
        old.at -= timedelta(hours=1)  # before every message of the conversation
        session.add(old)
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    for n in range(3):
        sent = await desk_app.post(anna, conversation, "messages", {"text": f"ответ {n}"})
        assert sent.status_code == 201, sent.text
    admin = await desk_app.admin()
    whole = await replay(desk_app, admin, conversation)
    assert whole["truncated"] is False
    assert "qa-olga" in [a["agent"] for a in kinds(whole["events"], "action")]

    monkeypatch.setattr(handoff.audit_views, "REPLAY_LIMIT", 4)
    cut = await replay(desk_app, admin, conversation)
    assert cut["truncated"] is True
    messages = kinds(cut["events"], "message")
    assert [m["id"] for m in messages] == [m["id"] for m in kinds(whole["events"],
                                                                 "message")][-4:]
    window = when(messages[0]["at"])
    actions = kinds(cut["events"], "action")
    assert "qa-olga" not in [a["agent"] for a in actions]
    assert actions and all(when(a["at"]) >= window for a in actions)
    # (the "open" is the first replay's own entry)
    assert [a["action"] for a in actions][-4:] == ["reply", "reply", "reply", "open"]


async def test_only_supervisors_replay_and_unknown_is_404(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    path = f"/api/desk/conversations/{conversation}/replay"
    as_agent = await desk_app.http.get(path, headers=anna.headers)  # even her own
    assert as_agent.status_code == 403 and as_agent.json()["detail"] == "supervisors only"
    assert (await desk_app.http.get(path)).status_code == 401
    admin = await desk_app.admin()
    unknown = await desk_app.http.get(f"/api/desk/conversations/{'0' * 32}/replay",
                                      headers=admin.headers)
    assert unknown.status_code == 404 and unknown.json()["detail"]
    for bad in ("not-an-id", "A" * 32, "0" * 33, "%3Cscript%3E"):
        response = await desk_app.http.get(f"/api/desk/conversations/{bad}/replay",
                                           headers=admin.headers)
        assert response.status_code == 422, (bad, response.text)
    # an unknown conversation and a refused one leave no "open" behind
    opened = await audit(desk_app, admin, action="open", agent="anna")
    assert [e for e in opened["entries"] if (e["details"] or {}).get("replay")] == []
    assert (await audit(desk_app, admin, action="open", agent="admin"))["entries"] == []
