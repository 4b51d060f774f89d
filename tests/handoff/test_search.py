"""Transcript search (GET /api/desk/search) through the real app, on SQLite (FTS5 filled by
the app) and on PostgreSQL (its full-text search): stemming, snippets, filters, pages, bad
input, roles and the audit trail.

Subscribers write on the web chat with the NLU down: plain keywords are still understood
("роуминг" is the intent ``roaming``), anything else twice in a row escalates. Conversations
on other channels, at other times, are stored directly.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from bot.messages import utcnow
from bot.storage import Conversation, Customer, Database, Identity, Message
from handoff.tables import AuditEntry, Handoff
from tests.support.app import new_user
from tests.support.desk import Agent, Desk

UNKNOWN = "у меня странная проблема"  # no keyword: said twice, it escalates


async def search(desk: Desk, who: Agent | None, **params: Any) -> httpx.Response:
    return await desk.http.get("/api/desk/search", params=params,
                               headers=who.headers if who else None)


async def found(desk: Desk, who: Agent, **params: Any) -> list[dict[str, Any]]:
    response = await search(desk, who, **params)
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


def text_of(result: dict[str, Any]) -> str:
    return "".join(segment["text"] for segment in result["snippet"])


def hits_of(result: dict[str, Any]) -> list[str]:
    return [segment["text"] for segment in result["snippet"] if segment["hit"]]


def from_subscribers(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The subscribers' messages among the results, by text (the bot's answers mention
    roaming too)."""
    return {text_of(r): r for r in results if r["sender"] == "subscriber"}


async def escalated(desk: Desk, *texts: str) -> tuple[str, str]:
    """A web chat subscriber whose conversation is waiting for an agent, having also said
    ``texts`` (while waiting): (user, conversation)."""
    user = new_user()
    answer = await desk.say(user, UNKNOWN)
    if answer["state"] != "waiting_agent":
        answer = await desk.say(user, UNKNOWN)
    assert answer["state"] == "waiting_agent"
    for text in texts:
        await desk.say(user, text)
    return user, answer["conversation_id"]


async def stored(db: Database, channel: str, texts: list[str], *, at: datetime | None = None,
                 intent: str | None = None) -> str:
    """A conversation on another channel, its subscriber's messages processed (as the bot
    leaves them), all at ``at``: its id."""
    at = at or utcnow()
    conversation_id = uuid.uuid4().hex
    async with db.transaction() as session:
        customer = Customer(lang="ru", created_at=at)
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel=channel,
                            channel_user_id=uuid.uuid4().hex, address=uuid.uuid4().hex)
        session.add(identity)
        await session.flush()
        session.add(Conversation(id=conversation_id, customer_id=customer.id,
                                 identity_id=identity.id, channel=channel, created_at=at))
        await session.flush()
        for text in texts:
            session.add(Message(conversation_id=conversation_id, direction="in",
                                sender="subscriber", channel=channel, identity_id=identity.id,
                                text=text, intent=intent, processed_at=at, created_at=at))
            await session.flush()  # in order: ids follow the texts
    return conversation_id


async def test_words_are_found_in_other_forms_with_the_hits_marked(desk_app: Desk) -> None:
    for text in ("Не работает роуминг в Грузии", "у меня нет роуминга",
                 "Why was I charged twice?", "<script>alert(1)</script> и роуминг тоже"):
        await desk_app.say(new_user(), text)
    admin = await desk_app.admin()

    results = from_subscribers(await found(desk_app, admin, q="роуминга"))
    assert {"Не работает роуминг в Грузии", "у меня нет роуминга"} <= set(results)
    assert hits_of(results["Не работает роуминг в Грузии"]) == ["роуминг"]
    assert hits_of(results["у меня нет роуминга"]) == ["роуминга"]
    assert results["у меня нет роуминга"]["snippet"] == [
        {"text": "у меня нет ", "hit": False}, {"text": "роуминга", "hit": True}]

    results = from_subscribers(await found(desk_app, admin, q="роуминг"))
    assert "у меня нет роуминга" in results, "another case form"
    first = results["Не работает роуминг в Грузии"]
    assert first["channel"] == "webchat" and first["direction"] == "in"
    assert first["intent"] == "roaming" and first["agent"] is None
    assert datetime.fromisoformat(first["at"]).utcoffset() is not None

    assert set(from_subscribers(await found(desk_app, admin, q="Грузия"))) == {
        "Не работает роуминг в Грузии"}
    english = from_subscribers(await found(desk_app, admin, q="charges"))
    assert set(english) == {"Why was I charged twice?"}
    assert hits_of(english["Why was I charged twice?"]) == ["charged"]
    assert await found(desk_app, admin, q="телепортация") == []

    # what a subscriber wrote comes back as text in a segment, never as markup
    script = results["<script>alert(1)</script> и роуминг тоже"]["snippet"]
    assert script == [{"text": "<script>alert(1)</script> и ", "hit": False},
                      {"text": "роуминг", "hit": True}, {"text": " тоже", "hit": False}]


async def test_the_query_language_and_fts_syntax(desk_app: Desk) -> None:
    for text in ("Не работает роуминг в Грузии", "у меня нет роуминга",
                 "Why was I charged twice?"):
        await desk_app.say(new_user(), text)
    admin = await desk_app.admin()

    def texts(results: list[dict[str, Any]]) -> set[str]:
        return set(from_subscribers(results))

    assert texts(await found(desk_app, admin, q='"не работает"')) == {
        "Не работает роуминг в Грузии"}
    assert texts(await found(desk_app, admin, q="роуминг -грузия")) == {"у меня нет роуминга"}
    assert texts(await found(desk_app, admin, q="грузия or charges")) == {
        "Не работает роуминг в Грузии", "Why was I charged twice?"}
    assert texts(await found(desk_app, admin, q="роуминг charges")) == set(), "all words"
    # FTS syntax is not syntax here: never an error
    for q in ['"', "*", "NEAR(", "-", "()", "роуминг*", '"роуминг', "роуминг)", "NOT",
              "a AND OR NOT b", "NEAR(роуминг грузия, 1)", "messages_fts:роуминг", "^роуминг",
              "'; DROP TABLE messages; --", "\\", "%_"]:
        response = await search(desk_app, admin, q=q)
        assert response.status_code == 200, (q, response.text)
    assert texts(await found(desk_app, admin, q="роуминг*")) == {
        "Не работает роуминг в Грузии", "у меня нет роуминга"}, "the word, its * ignored"


async def test_filters_narrow_the_results(desk_app: Desk) -> None:
    db = desk_app.services.db
    admin = await desk_app.admin()
    anna = await desk_app.create_agent("anna")
    # with an agent: anna claims, answers; the handoff had a long silence
    _, with_anna = await escalated(desk_app, "роуминг не работает")
    assert (await desk_app.post(anna, with_anna, "claim")).status_code == 200
    assert (await desk_app.post(anna, with_anna, "messages",
                                {"text": "Роуминг включён, проверьте"})).status_code == 201
    async with db.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.conversation_id == with_anna)
                              .values(longest_silence_seconds=300.0))
    # held by the bot (intent roaming); on Telegram in January (intent tariff_info)
    bot_held = (await desk_app.say(new_user(), "Не работает роуминг в Грузии"))["conversation_id"]
    january = datetime(2020, 1, 10, 12, 0, tzinfo=UTC)
    telegram = await stored(db, "telegram", ["роуминг в Турции не работает"], at=january,
                            intent="tariff_info")

    def conversations(results: list[dict[str, Any]]) -> set[str]:
        return {r["conversation_id"] for r in results}

    everything = await found(desk_app, admin, q="роуминг")
    assert conversations(everything) == {with_anna, bot_held, telegram}

    assert conversations(await found(desk_app, admin, q="роуминг", channel="telegram")) == {
        telegram}
    assert conversations(await found(desk_app, admin, q="роуминг", channel="webchat")) == {
        with_anna, bot_held}

    by_anna = await found(desk_app, admin, q="роуминг", agent="anna")
    assert conversations(by_anna) == {with_anna}
    assert {r["agent"] for r in by_anna} == {"anna"}
    reply = next(r for r in by_anna if r["sender"] == "agent")
    assert text_of(reply) == "Роуминг включён, проверьте" and reply["direction"] == "out"
    assert await found(desk_app, admin, q="роуминг", agent="boris") == []

    assert conversations(await found(desk_app, admin, q="роуминг", intent="tariff_info")) == {
        telegram}
    assert bot_held in conversations(await found(desk_app, admin, q="роуминг", intent="roaming"))
    assert telegram not in conversations(
        await found(desk_app, admin, q="роуминг", intent="roaming"))

    # dates are days in the desk's time zone (Europe/Minsk); "to" takes the whole day
    assert conversations(await found(desk_app, admin, q="роуминг", **{
        "from": "2020-01-10", "to": "2020-01-10"})) == {telegram}
    assert conversations(await found(desk_app, admin, q="роуминг", to="2020-01-09")) == set()
    assert conversations(await found(desk_app, admin, q="роуминг", **{
        "from": "2020-01-11"})) == {with_anna, bot_held}
    assert conversations(await found(desk_app, admin, q="роуминг", **{
        "from": "2020-01-10T12:00:00Z", "to": "2020-01-10T12:00:00+00:00"})) == {telegram}
    assert conversations(await found(desk_app, admin, q="роуминг", **{
        "from": "2020-01-10T12:00:01Z"})) == {with_anna, bot_held}
    assert conversations(await found(desk_app, admin, q="роуминг",
                                     to="2020-01-10T11:59:59Z")) == set()
    assert conversations(await found(desk_app, admin, q="роуминг", to="2020-01-10T12:00:00")) \
        == {telegram}, "a date and time without an offset is UTC"

    assert conversations(await found(desk_app, admin, q="роуминг", silence_over=200)) == {
        with_anna}
    assert await found(desk_app, admin, q="роуминг", silence_over=300) == [], "longer than"

    # without words: each matching conversation once, by its latest message, newest first
    latest = await found(desk_app, admin, channel="webchat")
    assert [r["conversation_id"] for r in latest] == [bot_held, with_anna]
    async with db.sessions() as session:
        newest = {cid: await session.scalar(
            select(Message.id).where(Message.conversation_id == cid)
            .order_by(Message.id.desc()).limit(1)) for cid in (bot_held, with_anna)}
    assert [r["message_id"] for r in latest] == [newest[bot_held], newest[with_anna]]
    assert not any(s["hit"] for r in latest for s in r["snippet"])
    assert conversations(await found(desk_app, admin, agent="anna")) == {with_anna}
    assert conversations(await found(desk_app, admin, silence_over=10)) == {with_anna}
    assert conversations(await found(desk_app, admin, intent="tariff_info")) == {telegram}
    assert conversations(await found(desk_app, admin, to="2020-01-31")) == {telegram}


async def test_pages_newest_first(desk_app: Desk) -> None:
    db = desk_app.services.db
    admin = await desk_app.admin()
    one = await stored(db, "telegram", [f"вопрос про тариф номер {n}" for n in range(5)])
    ids = [r["message_id"] for r in await found(desk_app, admin, q="тарифы", page_size=100)]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)

    seen: list[int] = []
    for page, expected_more in ((1, True), (2, True), (3, False)):
        response = await search(desk_app, admin, q="тарифы", page=page, page_size=2)
        body = response.json()
        assert (body["page"], body["page_size"], body["has_more"]) == (page, 2, expected_more)
        seen += [r["message_id"] for r in body["results"]]
    assert seen == ids
    assert (await search(desk_app, admin, q="тарифы", page=4, page_size=2)).json() == {
        "results": [], "page": 4, "page_size": 2, "has_more": False}
    exact = (await search(desk_app, admin, q="тарифы", page_size=5)).json()
    assert len(exact["results"]) == 5 and exact["has_more"] is False

    # without words, pages of conversations
    others = [await stored(db, "telegram", ["привет"]) for _ in range(2)]
    first = (await search(desk_app, admin, channel="telegram", page_size=2)).json()
    second = (await search(desk_app, admin, channel="telegram", page=2, page_size=2)).json()
    assert [r["conversation_id"] for r in first["results"]] == [others[1], others[0]]
    assert first["has_more"] is True
    assert [r["conversation_id"] for r in second["results"]] == [one]
    assert second["has_more"] is False


async def test_bad_requests_get_a_clear_422(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    nothing = await search(desk_app, admin)
    assert nothing.status_code == 422
    assert "q" in nothing.json()["detail"] and "filter" in nothing.json()["detail"]
    for params in ({"q": "   "}, {"q": "", "page": 2}, {"q": "роуминг", "page": 0},
                   {"q": "роуминг", "page_size": 1000}, {"q": "роуминг", "page_size": 0},
                   {"q": "роуминг", "from": "вчера"}, {"q": "роуминг", "to": "2026-13-45"},
                   {"q": "роуминг", "from": "2020-01-10T25:00"},
                   {"q": "роуминг", "silence_over": -1}, {"q": "роуминг", "silence_over": "x"},
                   {"q": "я" * 201}, {"channel": "web\x00chat"}, {"q": "x", "page": "a"}):
        response = await search(desk_app, admin, **params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"], params
    assert (await search(desk_app, admin, q="я" * 200)).status_code == 200
    assert (await search(desk_app, admin, q="роуминг\x00\x1b")).status_code == 200
    date_error = (await search(desk_app, admin, q="x", to="2026-13-45")).json()["error"]
    assert "to" in date_error and "ISO" in date_error
    backwards = await search(desk_app, admin, q="x", to="2020-01-01", **{"from": "2026-02-01"})
    assert backwards.status_code == 422 and "before" in backwards.json()["detail"]


async def test_supervisors_only_and_each_search_is_audited(desk_app: Desk) -> None:
    anna = await desk_app.create_agent("anna")
    admin = await desk_app.admin()
    assert (await search(desk_app, None, q="роуминг")).status_code == 401
    forbidden = await search(desk_app, anna, q="роуминг")
    assert forbidden.status_code == 403 and forbidden.json()["detail"] == "supervisors only"

    query = "номер 375291112233 роуминг"
    response = await search(desk_app, admin, q=query, channel="webchat", silence_over=60,
                            page_size=10, **{"from": "2020-01-01"})
    assert response.status_code == 200, response.text
    async with desk_app.services.db.sessions() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "search"))).all()
    assert len(entries) == 1, "refused searches are not searches"
    [entry] = entries
    assert entry.username == "admin" and entry.address
    assert entry.details == {"q_length": len(query), "channel": "webchat", "silence_over": 60.0,
                             "from": "2020-01-01", "page": 1, "page_size": 10, "results": 0}
    assert "375291112233" not in json.dumps(entry.details), "never the query's text"


async def test_messages_written_after_a_search_are_found_by_the_next(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    assert await found(desk_app, admin, q="телепортации") == []
    user = new_user()
    await desk_app.say(user, "хочу телепортацию домой")
    results = from_subscribers(await found(desk_app, admin, q="телепортации"))
    assert set(results) == {"хочу телепортацию домой"}
    for n in range(3):
        await desk_app.say(user, f"телепортация номер {n}")
    assert len(from_subscribers(await found(desk_app, admin, q="телепортации"))) == 4


async def test_a_message_is_searchable_only_once_processed(desk_app: Desk) -> None:
    """A message that held a one-time code is rewritten when it is processed: until then no
    search shows it (and the SQLite index never takes its first text)."""
    db = desk_app.services.db
    admin = await desk_app.admin()
    conversation = await stored(db, "telegram", ["первое сообщение"])
    async with db.transaction() as session:
        first = await session.scalar(select(Message).where(
            Message.conversation_id == conversation))
        assert first is not None
        pending = Message(conversation_id=conversation, direction="in", sender="subscriber",
                          channel="telegram", identity_id=first.identity_id,
                          text="код 918273", processed_at=None)
        session.add(pending)
    after = await stored(db, "telegram", ["код после"])
    assert await found(desk_app, admin, q="918273") == []
    assert conversation not in {r["conversation_id"]
                                for r in await found(desk_app, admin, q="код")}
    async with db.transaction() as session:  # as bot/turns.py leaves it
        await session.execute(update(Message).where(Message.id == pending.id)
                              .values(text="••••••", processed_at=utcnow()))
    assert await found(desk_app, admin, q="918273") == []
    assert {r["conversation_id"] for r in await found(desk_app, admin, q="код")} == {after}


async def test_sqlite_indexes_the_history_at_start_up_before_any_search(tmp_path: Any) -> None:
    from sqlalchemy import text

    from tests.support.desk import running_desk
    from tests.support.waiting import eventually

    url = f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    async with running_desk(url) as first:
        for n in range(3):
            await first.say(new_user(), f"Не работает роуминг номер {n}")

    async def indexed(desk: Desk) -> int | None:
        async with desk.services.db.sessions() as session:
            count = await session.scalar(text("SELECT count(*) FROM messages_fts"))
        return int(count) if count else None

    async with running_desk(url) as second:  # a restart: nobody searches
        count = await eventually(lambda: indexed(second))
        assert count >= 3
