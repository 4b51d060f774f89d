"""The live monitor and its alerts (#14) through the real app, on SQLite and PostgreSQL, with
the NLU down: a message no keyword knows is not understood (the bot holds the conversation), the
second one in a row escalates (``nlu_unavailable``).

Thresholds are lowered by settings (one second) so waits and silences cross them in the test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select, update

from bot.storage import Conversation, Database, Identity
from handoff.card import identity_alias
from handoff.monitor import Monitor, risk, sentiment_trend
from handoff.tables import AuditEntry
from tests.support.app import new_user
from tests.support.desk import Agent, Desk, running_desk
from tests.support.sql import counted
from tests.support.sse import named_events
from tests.support.waiting import eventually

UNKNOWN = "у меня странная проблема"  # no keyword the bot knows while the NLU is down
PHONE = "+375291234567"
FAST = {"handoff_target_seconds": 1, "silence_alert_seconds": 1}


# -- helpers ---------------------------------------------------------------------------------

async def bot_held(desk: Desk, text: str = UNKNOWN) -> tuple[str, str]:
    """A subscriber the bot answered once (not understood): (user, conversation)."""
    user = new_user()
    answer = await desk.say(user, text)
    assert answer["state"] == "bot", answer
    return user, answer["conversation_id"]


async def escalated(desk: Desk) -> tuple[str, str]:
    """A subscriber in the queue: (user, conversation)."""
    user, conversation = await bot_held(desk)
    answer = await desk.say(user, UNKNOWN)
    assert answer["state"] == "waiting_agent", answer
    return user, conversation


async def claimed(desk: Desk, agent: Agent) -> tuple[str, str]:
    user, conversation = await escalated(desk)
    response = await desk.post(agent, conversation, "claim")
    assert response.status_code == 200, response.text
    return user, conversation


async def monitor(desk: Desk, who: Agent, **params: str) -> dict[str, Any]:
    response = await desk.http.get("/api/desk/monitor", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def row_of(body: dict[str, Any], conversation_id: str) -> dict[str, Any] | None:
    return next((r for r in body["conversations"] if r["conversation_id"] == conversation_id),
                None)


def alerts_of(body: dict[str, Any], conversation_id: str) -> dict[str, dict[str, Any]]:
    return {a["kind"]: a for a in body["alerts"] if a["conversation_id"] == conversation_id}


async def row_when(desk: Desk, who: Agent, conversation_id: str, ready: Any,
                   **params: str) -> dict[str, Any]:
    """The conversation's row once ``ready(row)`` holds."""
    async def check() -> dict[str, Any] | None:
        row = row_of(await monitor(desk, who, **params), conversation_id)
        return row if row is not None and ready(row) else None
    return await eventually(check)


# -- the rules -------------------------------------------------------------------------------

def test_the_sentiment_trend_reads_the_latest_five_messages_oldest_first() -> None:
    falling = sentiment_trend(["спасибо, отлично", "это ужасно, вы меня достали"])
    assert falling.trend[0] > 0 > falling.trend[-1] and falling.direction == "falling"
    assert falling.latest == falling.trend[-1] and falling.label == "strongly_negative"
    assert sentiment_trend(["ужасно", "спасибо, отлично"]).direction == "rising"
    assert sentiment_trend(["ок", "ок"]).direction == "steady"
    empty = sentiment_trend([])
    assert (empty.trend, empty.latest, empty.label, empty.direction) == ([], None, "neutral",
                                                                          "steady")
    assert len(sentiment_trend(["ок"] * 7).trend) == 5


def test_risk_adds_each_threshold_crossed_and_one_per_alert() -> None:
    def of(**given: Any) -> float:
        values = {"silence_seconds": 0.0, "waiting_seconds": 0.0, "latest_sentiment": None,
                  "unanswered_messages": 0, "alerts": 0, "silence_alert_seconds": 120,
                  "target_seconds": 180} | given
        return risk(**values)

    assert of() == 0
    assert of(silence_seconds=120) == of(waiting_seconds=180) == of(latest_sentiment=-4) \
        == of(unanswered_messages=3) == of(alerts=1) == 1
    assert of(latest_sentiment=5) == 0, "a happy subscriber adds nothing"
    assert of(silence_seconds=240, alerts=1) == 3


# -- the rows ----------------------------------------------------------------------------------

async def test_the_monitor_shows_the_bots_the_waiting_and_the_claimed_conversations(
    database_url: str,
) -> None:
    async with running_desk(database_url, **FAST) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        _, bot = await bot_held(desk)
        _, waiting = await escalated(desk)
        _, taken = await claimed(desk, anna)

        body = await monitor(desk, supervisor)
        assert body["silence_alert_seconds"] == 1 and body["target_seconds"] == 1
        assert body["generated_at"].endswith("Z")

        held = row_of(body, bot)
        assert held is not None
        assert held["state"] == "bot" and held["handoff_id"] is None and held["agent"] is None
        assert held["channel"] == "webchat" and held["lang"] == "ru"
        assert held["waiting_seconds"] is None and held["unanswered_seconds"] is None
        assert held["sla_breached"] is False and held["alerts"] == []
        lines = held["last_lines"]
        assert [(line["sender"], line["direction"]) for line in lines] == [
            ("subscriber", "in"), ("bot", "out")]
        assert lines[0]["text"] == UNKNOWN and held["last_message_at"] == lines[-1]["at"]
        assert held["sentiment"]["trend"] == [held["sentiment"]["latest"]]
        assert held["sentiment"]["direction"] == "steady"

        row = await row_when(desk, supervisor, waiting, lambda r: r["sla_breached"])
        assert row["state"] == "waiting" and row["handoff_id"] is not None
        assert row["waiting_seconds"] >= 1 and "sla" in row["alerts"]
        assert row["unanswered_messages"] == 1, "the escalating message waits for an answer"
        assert len(row["last_lines"]) == 3 and row["last_lines"][-1]["sender"] == "bot"
        assert len(row["sentiment"]["trend"]) == 2, "both of the subscriber's messages"

        with_anna = await row_when(desk, supervisor, taken, lambda r: "silence" in r["alerts"])
        assert with_anna["state"] == "with_agent" and with_anna["agent"] == "anna"
        assert with_anna["waiting_seconds"] is not None and with_anna["sla_breached"] is False
        assert with_anna["unanswered_seconds"] >= 1

        body = await monitor(desk, supervisor)
        risks = [r["risk"] for r in body["conversations"]]
        assert risks == sorted(risks, reverse=True), "riskiest first"
        assert body["conversations"][-1]["conversation_id"] == bot, "nothing is wrong there"
        sla = alerts_of(body, waiting)["sla"]
        assert sla["id"] == f"sla:{row['handoff_id']}" and sla["agent"] is None
        assert sla["seconds"] >= 1 and sla["channel"] == "webchat"


async def test_filters_by_state_channel_and_agent(database_url: str) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        _, bot = await bot_held(desk)
        _, waiting = await escalated(desk)
        _, taken = await claimed(desk, anna)

        def ids(body: dict[str, Any]) -> set[str]:
            return {r["conversation_id"] for r in body["conversations"]}

        assert ids(await monitor(desk, supervisor)) == {bot, waiting, taken}
        assert ids(await monitor(desk, supervisor, state="bot")) == {bot}
        assert ids(await monitor(desk, supervisor, state="waiting,with_agent")) == {waiting, taken}
        response = await desk.http.get("/api/desk/monitor", headers=supervisor.headers,
                                       params=[("state", "bot"), ("state", "waiting")])
        assert ids(response.json()) == {bot, waiting}
        assert ids(await monitor(desk, supervisor, channel="webchat")) == {bot, waiting, taken}
        assert ids(await monitor(desk, supervisor, channel="telegram")) == set()
        assert ids(await monitor(desk, supervisor, agent="anna")) == {taken}
        assert ids(await monitor(desk, supervisor, agent="boris")) == set()
        assert ids(await monitor(desk, supervisor, state="bot", agent="anna")) == set()

        for params in ({"state": "closed"}, {"state": "bot,nonsense"},
                       {"channel": "<script>alert(1)</script>"}, {"agent": "x" * 65},
                       {"state": ",".join(["bot"] * 10 + [f"s{n}" for n in range(60)])}):
            for path in ("/api/desk/monitor", "/api/desk/monitor/events"):
                response = await desk.http.get(path, params=params, headers=supervisor.headers)
                assert response.status_code == 422, (path, params, response.text)
                assert "<script>" not in response.text


async def test_a_conversation_awaiting_its_rating_is_the_bots(database_url: str) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        _, conversation = await claimed(desk, anna)
        assert (await desk.post(anna, conversation, "messages", {"text": "Готово"})).status_code \
            == 201
        assert (await desk.post(anna, conversation, "close", {"resolution": "done"})).status_code \
            == 200
        row = row_of(await monitor(desk, supervisor), conversation)
        assert row is not None and row["state"] == "bot" and row["handoff_id"] is None
        assert row["alerts"] == []


async def test_an_idle_bot_conversation_leaves_the_monitor(database_url: str) -> None:
    async with running_desk(database_url, monitor_bot_idle_minutes=0.05) as desk:  # 3 s
        supervisor = await desk.admin()
        _, conversation = await bot_held(desk)
        assert row_of(await monitor(desk, supervisor), conversation) is not None

        async def gone() -> bool:
            return row_of(await monitor(desk, supervisor), conversation) is None

        await eventually(gone)


async def test_a_snapshot_costs_the_same_queries_however_many_conversations(
    database_url: str,
) -> None:
    # every subscriber writes from 127.0.0.1: no cap on open handoffs per address here
    async with running_desk(database_url, webchat_max_open_handoffs_per_ip=0) as desk:
        anna = await desk.create_agent("anna")
        # a monitor on a connection pool of its own: the app's background work is not counted
        db = Database(database_url)
        watcher = Monitor(db, kb=desk.services.kb, silence_alert_seconds=120,
                          target_seconds=180, bot_idle_minutes=30)
        try:
            await bot_held(desk)
            await escalated(desk)
            await claimed(desk, anna)
            with counted(db) as few:
                small = await watcher.snapshot()
            for _ in range(2):
                await bot_held(desk)
                await escalated(desk)
                await claimed(desk, anna)
            with counted(db) as many:
                large = await watcher.snapshot()
        finally:
            await db.close()
        assert (len(small.conversations), len(large.conversations)) == (3, 9)
        assert len(many) == len(few) <= 5, many


# -- alerts ----------------------------------------------------------------------------------

async def test_a_silence_alert_fires_and_closes_itself_when_the_agent_answers(
    database_url: str,
) -> None:
    async with running_desk(database_url, silence_alert_seconds=1) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        user, conversation = await claimed(desk, anna)

        row = await row_when(desk, supervisor, conversation, lambda r: "silence" in r["alerts"])
        body = await monitor(desk, supervisor)
        first = alerts_of(body, conversation)["silence"]
        assert first["id"].startswith(f"silence:{row['handoff_id']}:")
        assert first["agent"] == "anna" and first["seconds"] >= 1 and first["messages"] == 1
        assert (await monitor(desk, supervisor))["alerts"][0]["id"] == first["id"], "stable"

        response = await desk.post(anna, conversation, "messages", {"text": "Смотрю"})
        assert response.status_code == 201, response.text
        body = await monitor(desk, supervisor)
        answered = row_of(body, conversation)
        assert answered is not None and answered["alerts"] == []
        assert answered["unanswered_seconds"] is None and answered["unanswered_messages"] == 0
        assert "silence" not in alerts_of(body, conversation)
        alerts = await desk.http.get("/api/desk/alerts", headers=supervisor.headers)
        assert all(a["conversation_id"] != conversation for a in alerts.json()["alerts"])

        await desk.say(user, "и что там?")
        again = await row_when(desk, supervisor, conversation, lambda r: "silence" in r["alerts"])
        assert again["unanswered_messages"] == 1
        second = alerts_of(await monitor(desk, supervisor), conversation)["silence"]
        assert second["id"] != first["id"], "a new silence is a new alert"


async def test_three_unanswered_messages_raise_an_alert(database_url: str) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        user, conversation = await escalated(desk)  # the escalating message is the first
        await desk.say(user, "алло?")
        row = row_of(await monitor(desk, supervisor), conversation)
        assert row is not None and row["unanswered_messages"] == 2 and row["alerts"] == []
        await desk.say(user, "это ужасно, вы меня достали")
        body = await monitor(desk, supervisor)
        row = row_of(body, conversation)
        assert row is not None and row["unanswered_messages"] == 3
        mood = row["sentiment"]
        assert len(mood["trend"]) == 4 and mood["latest"] == mood["trend"][-1] <= -4
        assert mood["label"] == "strongly_negative" and mood["direction"] == "falling"
        assert row["alerts"] == ["unanswered_messages"]
        alert = alerts_of(body, conversation)["unanswered_messages"]
        assert alert["messages"] == 3 and alert["agent"] is None
        assert alert["id"].startswith(f"unanswered_messages:{row['handoff_id']}:")

        response = await desk.http.get("/api/desk/alerts", headers=supervisor.headers)
        assert response.status_code == 200
        assert response.json()["generated_at"].endswith("Z")
        assert [(a["id"], a["kind"], a["messages"], a["conversation_id"])
                for a in response.json()["alerts"]] == [
            (alert["id"], "unanswered_messages", 3, conversation)]

        assert (await desk.post(anna, conversation, "claim")).status_code == 200
        assert (await desk.post(anna, conversation, "messages", {"text": "Я здесь"})
                ).status_code == 201
        row = row_of(await monitor(desk, supervisor), conversation)
        assert row is not None and row["alerts"] == [] and row["unanswered_messages"] == 0
        assert (await desk.http.get("/api/desk/alerts", headers=supervisor.headers)
                ).json()["alerts"] == []


async def test_alerts_ignore_the_monitor_filters(database_url: str) -> None:
    async with running_desk(database_url, **FAST) as desk:
        supervisor = await desk.admin()
        _, waiting = await escalated(desk)
        await row_when(desk, supervisor, waiting, lambda r: r["sla_breached"])
        body = await monitor(desk, supervisor, state="bot")
        assert row_of(body, waiting) is None
        assert "sla" in alerts_of(body, waiting), "a filter never hides an alert"


# -- live updates ----------------------------------------------------------------------------

async def test_the_event_stream_sends_the_monitor_at_once_and_on_a_new_message(
    database_url: str,
) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        async with desk.http.stream("GET", "/api/desk/monitor/events", params={"state": "bot"},
                                    headers=supervisor.headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = named_events(stream.aiter_lines(), "monitor")
            first = await asyncio.wait_for(anext(events), 5)
            assert first["conversations"] == [] and first["alerts"] == []

            _, conversation = await bot_held(desk)

            async def until_it_shows() -> dict[str, Any]:
                async for body in events:
                    row = row_of(body, conversation)
                    if row is not None:
                        return row
                raise AssertionError("the stream ended")

            row = await asyncio.wait_for(until_it_shows(), 10)
            assert row["state"] == "bot" and row["last_lines"][0]["text"] == UNKNOWN


# -- one conversation, read-only ---------------------------------------------------------------

async def test_a_supervisor_reads_a_bot_conversation_without_the_phone_number(
    database_url: str,
) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        user, conversation = await bot_held(desk, "<img src=x onerror=alert(1)>")
        async with desk.services.db.transaction() as session:
            found = await session.get(Conversation, conversation)
            assert found is not None
            identity_id = found.identity_id
            await session.execute(update(Identity).where(Identity.id == identity_id)
                                  .values(verified_phone=PHONE, verified_via="sms_code"))

        response = await desk.http.get(f"/api/desk/monitor/conversations/{conversation}",
                                       headers=supervisor.headers)
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["conversation_id"] == conversation and view["state"] == "bot"
        assert view["channel"] == "webchat" and view["lang"] == "ru"
        assert view["handoff_id"] is None and view["status"] is None and view["agent"] is None
        assert view["identity"] == {"alias": identity_alias(identity_id), "display_name": None,
                                    "verified": True}
        assert [m["sender"] for m in view["transcript"]] == ["subscriber", "bot"]
        assert view["transcript"][0]["text"] == "<img src=x onerror=alert(1)>", "text, as it is"
        assert view["notes"] == []
        for secret in ("291234567", "29 123-45-67", user):
            assert secret not in response.text

        async with desk.services.db.sessions() as session:
            entries = (await session.scalars(
                select(AuditEntry).where(AuditEntry.conversation_id == conversation,
                                         AuditEntry.action == "open"))).all()
        assert [(e.username, e.details, e.handoff_id) for e in entries] == [
            ("admin", {"read_only": True}, None)]
        assert entries[0].address == "127.0.0.1"


async def test_the_read_only_view_of_a_handoff_shows_its_agent_and_notes(
    database_url: str,
) -> None:
    async with running_desk(database_url) as desk:
        supervisor = await desk.admin()
        anna = await desk.create_agent("anna")
        _, conversation = await claimed(desk, anna)
        assert (await desk.post(anna, conversation, "notes", {"text": "спросить номер"})
                ).status_code == 201
        view = (await desk.http.get(f"/api/desk/monitor/conversations/{conversation}",
                                    headers=supervisor.headers)).json()
        assert view["state"] == "with_agent" and view["status"] == "active"
        assert view["agent"] == "anna" and view["supervisor"] is None
        assert [(n["agent"], n["text"], n["kind"]) for n in view["notes"]] == [
            ("anna", "спросить номер", "note")]
        async with desk.services.db.sessions() as session:
            opened = (await session.scalars(
                select(AuditEntry).where(AuditEntry.conversation_id == conversation,
                                         AuditEntry.action == "open"))).all()
        assert [e.handoff_id for e in opened if e.details == {"read_only": True}] == [
            view["handoff_id"]]

        missing = await desk.http.get(f"/api/desk/monitor/conversations/{'0' * 32}",
                                      headers=supervisor.headers)
        assert missing.status_code == 404
        malformed = await desk.http.get("/api/desk/monitor/conversations/not-an-id",
                                        headers=supervisor.headers)
        assert malformed.status_code == 422


# -- who may ---------------------------------------------------------------------------------

async def test_agents_get_403_and_strangers_401_on_every_route(desk_app: Desk) -> None:
    anna = await desk_app.create_agent("anna")
    _, conversation = await bot_held(desk_app)
    paths = ["/api/desk/monitor", "/api/desk/monitor/events", "/api/desk/alerts",
             f"/api/desk/monitor/conversations/{conversation}",
             "/api/desk/monitor?state=nonsense"]
    for path in paths:
        response = await desk_app.http.get(path, headers=anna.headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["detail"] == "supervisors only"
        stranger = await desk_app.http.get(path)
        assert stranger.status_code == 401, (path, stranger.text)
    async with desk_app.services.db.sessions() as session:
        assert (await session.scalars(
            select(AuditEntry).where(AuditEntry.conversation_id == conversation))).all() == []


async def test_a_supervisors_stream_ends_by_itself(desk_app: Desk, monkeypatch: Any) -> None:
    """The browser reconnects; a stream that never ended would pin a worker forever."""
    import handoff.monitor_api

    monkeypatch.setattr(handoff.monitor_api, "STREAM_SECONDS", 1.0)
    olga = await desk_app.create_agent("olga", role="supervisor")
    async with httpx.AsyncClient(base_url=desk_app.url, timeout=10) as http:
        response = await http.get("/api/desk/monitor/events", headers=olga.headers)
    assert response.status_code == 200
    assert response.text.count("event: monitor") >= 1
