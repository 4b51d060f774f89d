"""Agent assist (#15) through the desk API, on SQLite and PostgreSQL: the knowledge-base articles
suggested for an open conversation (from the intents seen and the subscriber's latest message,
in the subscriber's language), a verified subscriber's live figures from the demo billing (none
when unverified, null with a reason when the billing fails), which suggestions were used, who
may ask, and the audit entry for showing personal figures.

Subscribers write on the web chat with the NLU down: a button payload (``/roaming_trouble``) is
understood as its intent, ``/human_request`` escalates, and what they write while waiting goes to
the handoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.messages import utcnow
from bot.storage import Identity
from handoff.tables import AssistEvent, AuditEntry
from knowledge_base import load_knowledge_base
from tests.support.app import new_user
from tests.support.desk import Agent, Desk, running_desk
from tests.support.servers import free_port
from tests.support.silent_server import SilentServer

DEMO_MSISDN = "375291112233"  # backoffice/data/demo_subscribers.yml: 12.34 BYN, "Демо Смарт"


async def roaming_trouble_handoff(desk: Desk, lang: str = "ru") -> tuple[str, str]:
    """A subscriber whose trouble the bot understood as roaming_trouble asks for a person:
    (their web chat user id, the conversation id)."""
    user = new_user()
    await desk.say(user, payload="/roaming_trouble", lang=lang)
    answer = await desk.say(user, payload="/human_request", lang=lang)
    return user, str(answer["conversation_id"])


async def get_assist(desk: Desk, agent: Agent, conversation_id: str) -> dict[str, Any]:
    response = await desk.http.get(f"/api/desk/conversations/{conversation_id}/assist",
                                   headers=agent.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def article_text(article_id: str, lang: str) -> str:
    kb = load_knowledge_base()
    article = next(a for a in kb.articles if a.id == article_id)
    answer = kb.answer(article.intent, {}, lang)
    assert answer is not None and answer.article_id == article_id
    return answer.text.strip()


async def verify(desk: Desk, user: str, phone: str) -> None:
    async with desk.services.db.transaction() as session:
        await session.execute(
            update(Identity).where(Identity.channel == "webchat",
                                   Identity.channel_user_id == user)
            .values(verified_phone=phone, verified_at=utcnow() - timedelta(minutes=1),
                    verified_via="sms_code")
        )


async def events(desk: Desk) -> list[tuple[str, str, str | None]]:
    async with desk.services.db.sessions() as session:
        rows = await session.scalars(select(AssistEvent).order_by(AssistEvent.id))
        return [(r.article, r.action, r.lang) for r in rows]


async def test_a_roaming_trouble_conversation_gets_the_roaming_trouble_article(
    desk_app: Desk,
) -> None:
    _, conversation = await roaming_trouble_handoff(desk_app)
    agent = await desk_app.create_agent("anna")

    body = await get_assist(desk_app, agent, conversation)
    suggestions = body["suggestions"]
    assert 1 <= len(suggestions) <= 3
    best = suggestions[0]
    assert best["article"] == "roaming_trouble_general"
    assert best["text"] == article_text("roaming_trouble_general", "ru")
    assert best["title"] == "Не работает связь в роуминге"
    assert "roaming_trouble" in best["reason"] and best["score"] > 0
    assert [s["score"] for s in suggestions] == sorted((s["score"] for s in suggestions),
                                                       reverse=True)
    assert body["lang"] == "ru"
    # unverified: no figures, and why
    assert body["figures"] is None and body["figures_reason"] == "not_verified"

    # each suggestion shown is recorded once per handoff, however often the page reads it
    await get_assist(desk_app, agent, conversation)
    shown = await events(desk_app)
    assert sorted(a for a, action, _ in shown) == sorted(s["article"] for s in suggestions)
    assert {(action, lang) for _, action, lang in shown} == {("suggested", "ru")}


async def test_suggestions_are_in_the_subscribers_language(desk_app: Desk) -> None:
    agent = await desk_app.create_agent("anna")
    for lang in ("be", "en"):
        _, conversation = await roaming_trouble_handoff(desk_app, lang)
        body = await get_assist(desk_app, agent, conversation)
        assert body["lang"] == lang
        best = body["suggestions"][0]
        assert best["article"] == "roaming_trouble_general"
        assert best["text"] == article_text("roaming_trouble_general", lang)
    assert "роўмінг" in article_text("roaming_trouble_general", "be")


async def test_the_latest_message_mentioning_the_balance_ranks_the_balance_article(
    desk_app: Desk,
) -> None:
    user = new_user()
    answer = await desk_app.say(user, payload="/human_request")
    await desk_app.say(user, "Подскажите, какой у меня сейчас баланс?")
    agent = await desk_app.create_agent("anna")

    body = await get_assist(desk_app, agent, answer["conversation_id"])
    assert body["suggestions"][0]["article"] == "balance_check"
    assert "баланс" in body["suggestions"][0]["reason"]

    # a newer message on another topic moves the suggestions with it
    await desk_app.say(user, "И ещё: в роуминге не работает интернет")
    body = await get_assist(desk_app, agent, answer["conversation_id"])
    assert body["suggestions"][0]["article"].startswith("roaming")


async def test_a_verified_subscriber_gets_live_figures_and_the_view_is_audited(
    desk_app: Desk,
) -> None:
    user, conversation = await roaming_trouble_handoff(desk_app)
    await verify(desk_app, user, "+" + DEMO_MSISDN)
    agent = await desk_app.create_agent("anna")

    body = await get_assist(desk_app, agent, conversation)
    assert body["figures"] == {"balance": "12.34", "currency": "BYN", "tariff": "Демо Смарт",
                               "roaming_enabled": False, "status": "active"}
    assert body["figures_reason"] is None
    assert body["suggestions"][0]["article"] == "roaming_trouble_general"
    async with desk_app.services.db.sessions() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "view_personal_data",
                                     AuditEntry.conversation_id == conversation)
        )).all()
    assert [(e.username, e.details) for e in entries] == [("anna", {"data": "live_figures"})]

    # a number the billing does not know: no figures, and why
    await verify(desk_app, user, "+375290000001")
    body = await get_assist(desk_app, agent, conversation)
    assert body["figures"] is None and body["figures_reason"] == "not_a_subscriber"


async def test_a_failing_billing_gives_no_figures_but_still_the_suggestions(
    database_url: str,
) -> None:
    async with running_desk(database_url,
                            billing_url=f"http://127.0.0.1:{free_port()}") as desk:
        user, conversation = await roaming_trouble_handoff(desk)
        await verify(desk, user, "+" + DEMO_MSISDN)
        agent = await desk.create_agent("anna")
        body = await get_assist(desk, agent, conversation)
        assert body["figures"] is None and body["figures_reason"] == "billing_failed"
        assert body["suggestions"][0]["article"] == "roaming_trouble_general"
        async with desk.services.db.sessions() as session:
            audited = (await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "view_personal_data")
            )).all()
        assert {"data": "live_figures"} not in audited


async def test_a_billing_that_never_answers_does_not_hold_the_desk(database_url: str) -> None:
    """The assist's own bound (2 s) answers, not the billing client's timeout (60 s here)."""
    async with SilentServer() as silent, running_desk(
        database_url, billing_url=silent.url, billing_timeout=60.0
    ) as desk:
        user, conversation = await roaming_trouble_handoff(desk)
        await verify(desk, user, "+" + DEMO_MSISDN)
        agent = await desk.create_agent("anna")
        body = await get_assist(desk, agent, conversation)
        assert body["figures"] is None and body["figures_reason"] == "billing_failed"
        assert body["suggestions"][0]["article"] == "roaming_trouble_general"


async def test_used_suggestions_are_tracked(desk_app: Desk) -> None:
    _, conversation = await roaming_trouble_handoff(desk_app)
    agent = await desk_app.create_agent("anna")
    assert (await desk_app.post(agent, conversation, "claim")).status_code == 200
    await get_assist(desk_app, agent, conversation)

    for action in ("inserted", "sent"):
        response = await desk_app.post(agent, conversation, "assist/used",
                                       {"article": "roaming_trouble_general", "action": action})
        assert response.status_code == 204, response.text
    used = [(a, action) for a, action, _ in await events(desk_app) if action != "suggested"]
    assert used == [("roaming_trouble_general", "inserted"), ("roaming_trouble_general", "sent")]

    unknown = await desk_app.post(agent, conversation, "assist/used",
                                  {"article": "no_such_article", "action": "inserted"})
    assert unknown.status_code == 422
    personal = await desk_app.post(agent, conversation, "assist/used",
                                   {"article": "balance_personal", "action": "inserted"})
    assert personal.status_code == 422
    bad_action = await desk_app.post(agent, conversation, "assist/used",
                                     {"article": "roaming_trouble_general", "action": "liked"})
    assert bad_action.status_code == 422
    assert [e for e in await events(desk_app) if e[1] != "suggested"] == [
        ("roaming_trouble_general", action, "ru") for action in ("inserted", "sent")]


async def test_who_may_ask(desk_app: Desk) -> None:
    _, conversation = await roaming_trouble_handoff(desk_app)
    anna = await desk_app.create_agent("anna")
    boris = await desk_app.create_agent("boris")
    # waiting: any agent may see it
    await get_assist(desk_app, boris, conversation)
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200

    # anna's now: boris may neither read nor record
    forbidden = await desk_app.http.get(f"/api/desk/conversations/{conversation}/assist",
                                        headers=boris.headers)
    assert forbidden.status_code == 403
    used = await desk_app.post(boris, conversation, "assist/used",
                               {"article": "roaming_trouble_general", "action": "inserted"})
    assert used.status_code == 403
    # a supervisor may
    await get_assist(desk_app, await desk_app.admin(), conversation)
    # no login: 401; no handoff: 404
    anonymous = await desk_app.http.get(f"/api/desk/conversations/{conversation}/assist")
    assert anonymous.status_code == 401
    anonymous_used = await desk_app.http.post(
        f"/api/desk/conversations/{conversation}/assist/used",
        json={"article": "roaming_trouble_general", "action": "inserted"})
    assert anonymous_used.status_code == 401
    missing = await desk_app.http.get(f"/api/desk/conversations/{'0' * 32}/assist",
                                      headers=anna.headers)
    assert missing.status_code == 404
