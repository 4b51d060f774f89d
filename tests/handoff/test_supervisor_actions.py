"""A supervisor's join, whisper and take-over through the real app and database (NLU down), and
the audit trail those and every other desk action leave behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.messages import utcnow
from handoff.tables import AuditEntry, Handoff
from tests.handoff.test_customer_card import escalate, linked_customer
from tests.handoff.test_desk_api import UNKNOWN, conversation_of, escalated
from tests.support.app import new_user
from tests.support.desk import ADMIN_PASSWORD, Agent, Desk
from tests.support.waiting import eventually

SENIOR = "старший специалист"


async def replies_until(desk: Desk, user: str, cursor: Any, wanted: str) -> dict[str, Any]:
    """The subscriber's updates after ``cursor`` once one of them contains ``wanted``."""

    async def arrived() -> dict[str, Any] | None:
        got = await desk.updates(user, cursor, wait=2)
        return got if any(wanted in r["text"] for r in got["replies"]) else None

    return await eventually(arrived)


async def bot_held(desk: Desk) -> tuple[str, str, Any]:
    """A subscriber the bot answered (not understood once, still the bot's)."""
    user = new_user()
    answer = await desk.say(user, UNKNOWN)
    assert answer["state"] == "bot"
    return user, answer["conversation_id"], answer["cursor"]


async def audit_rows(desk: Desk, conversation_id: str | None = None) -> list[AuditEntry]:
    async with desk.services.db.sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if conversation_id is not None:
            query = query.where(AuditEntry.conversation_id == conversation_id)
        return list((await session.scalars(query)).all())


async def test_a_supervisor_joins_a_conversation_the_bot_holds(desk_app: Desk) -> None:
    user, conversation, cursor = await bot_held(desk_app)
    admin = await desk_app.admin()
    joined = await desk_app.post(admin, conversation, "join")
    assert joined.status_code == 200, joined.text
    assert joined.json()["status"] == "active" and joined.json()["state"] == "with_agent"
    told = await replies_until(desk_app, user, cursor, SENIOR)
    assert any("Administrator" in r["text"] for r in told["replies"])

    sent = await desk_app.post(admin, conversation, "messages", {"text": "Я помогу, минуту."})
    assert sent.status_code == 201, sent.text
    reply = await replies_until(desk_app, user, told["cursor"], "Я помогу")
    assert [r["sender"] for r in reply["replies"]] == ["agent"]

    # the subscriber now writes to a person, not to the bot
    back = await desk_app.say(user, UNKNOWN)
    assert back["state"] == "with_agent" and back["replies"] == []
    detail = await conversation_of(desk_app, admin, conversation)
    assert detail["reason"] == "supervisor_joined" and detail["agent"] == "admin"
    assert (await desk_app.post(admin, conversation, "join")).status_code == 409


async def test_a_supervisor_joins_an_agents_conversation_and_both_reply(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    admin = await desk_app.admin()

    joined = await desk_app.post(admin, conversation, "join")
    assert joined.status_code == 200, joined.text
    told = await replies_until(desk_app, user, answer["cursor"], SENIOR)
    detail = await conversation_of(desk_app, anna, conversation)
    assert detail["agent"] == "anna" and detail["supervisor"] == "admin"
    queue = await desk_app.queue(anna)
    assert [i["supervisor"] for i in queue["active"]] == ["admin"]

    assert (await desk_app.post(admin, conversation, "messages",
                                {"text": "Подключилась, смотрю."})).status_code == 201
    assert (await desk_app.post(anna, conversation, "messages",
                                {"text": "Спасибо за ожидание."})).status_code == 201
    both = await replies_until(desk_app, user, told["cursor"], "Спасибо за ожидание")
    texts = [r["text"] for r in both["replies"]]
    assert "Подключилась, смотрю." in texts
    assert (await desk_app.post(admin, conversation, "join")).status_code == 409


async def test_a_whisper_reaches_the_agent_never_the_subscriber(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    admin = await desk_app.admin()

    whispered = await desk_app.post(admin, conversation, "whisper",
                                    {"text": "Предложи тариф «Безлимит»"})
    assert whispered.status_code == 201, whispered.text
    assert whispered.json()["kind"] == "whisper" and whispered.json()["agent"] == "admin"
    notes = (await conversation_of(desk_app, anna, conversation))["notes"]
    assert [(n["kind"], n["text"]) for n in notes] == [("whisper", "Предложи тариф «Безлимит»")]
    assert (await desk_app.post(anna, conversation, "messages", {"text": "Есть тариф"})
            ).status_code == 201
    seen = await replies_until(desk_app, user, answer["cursor"], "Есть тариф")
    assert not any("Безлимит" in r["text"] for r in seen["replies"])

    # only supervisors whisper; a conversation without a handoff has nobody to whisper to
    assert (await desk_app.post(anna, conversation, "whisper", {"text": "x"})).status_code == 403
    _, bot_conversation, _ = await bot_held(desk_app)
    assert (await desk_app.post(admin, bot_conversation, "whisper", {"text": "x"})
            ).status_code == 404
    assert (await desk_app.post(admin, conversation, "whisper", {"text": "   "})
            ).status_code == 422


async def test_take_over_makes_the_conversation_the_supervisors(desk_app: Desk) -> None:
    user, conversation, answer = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    admin = await desk_app.admin()

    taken = await desk_app.post(admin, conversation, "take-over")
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "active"
    assert (await conversation_of(desk_app, admin, conversation))["agent"] == "admin"
    # anna no longer handles, nor sees, it
    forbidden = await desk_app.http.get(f"/api/desk/conversations/{conversation}",
                                        headers=anna.headers)
    assert forbidden.status_code == 403
    assert (await desk_app.post(anna, conversation, "messages", {"text": "я тут"})
            ).status_code == 403
    assert conversation not in {i["conversation_id"] for i in
                                (await desk_app.queue(anna))["active"]}
    await replies_until(desk_app, user, answer["cursor"], SENIOR)
    assert (await desk_app.post(admin, conversation, "take-over")).status_code == 409
    rows = await audit_rows(desk_app, conversation)
    take = next(r for r in rows if r.action == "take_over")
    assert take.username == "admin" and take.details == {"from_agent": "anna"}


async def test_agents_and_strangers_cannot_use_the_supervisors_tools(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    admin = await desk_app.admin()
    for action, body in (("join", None), ("take-over", None), ("whisper", {"text": "x"})):
        assert (await desk_app.post(anna, conversation, action, body)).status_code == 403
        stranger = await desk_app.http.post(f"/api/desk/conversations/{conversation}/{action}",
                                            json=body)
        assert stranger.status_code == 401
        assert (await desk_app.post(admin, "0" * 32, action, body)).status_code == 404
        assert (await desk_app.post(admin, "not-an-id", action, body)).status_code == 422
    async with desk_app.services.db.sessions() as session:
        handoff = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation))
    assert handoff is not None and handoff.status == "waiting" and handoff.agent_id is None


async def test_the_audit_trail_records_the_whole_sequence_in_order(desk_app: Desk) -> None:
    user, conversation, _ = await escalated(desk_app)
    await desk_app.module.accounts.create("anna", "anna-password", role="agent")
    failed = await desk_app.http.post("/api/desk/login",
                                      json={"username": "anna", "password": "wrong-password"})
    assert failed.status_code == 401
    ghost = await desk_app.http.post("/api/desk/login",
                                     json={"username": "my secret pass", "password": "x"})
    assert ghost.status_code == 401
    anna = await desk_app.login("anna", "anna-password")
    admin = await desk_app.login("admin", ADMIN_PASSWORD)
    await conversation_of(desk_app, anna, conversation)
    await conversation_of(desk_app, anna, conversation)  # a refresh is the same "open"
    steps: list[tuple[Agent, str, dict[str, str] | None]] = [
        (anna, "claim", None),
        (anna, "messages", {"text": "Здравствуйте"}),
        (anna, "notes", {"text": "проверить тариф"}),
        (admin, "join", None),
        (admin, "whisper", {"text": "спроси номер договора"}),
        (admin, "take-over", None),
        (admin, "close", {"resolution": "объяснили"}),
    ]
    for who, action, body in steps:
        response = await desk_app.post(who, conversation, action, body)
        assert response.status_code in (200, 201), (action, response.text)
    assert (await desk_app.http.post("/api/desk/logout", headers=anna.headers)
            ).status_code == 204

    rows = await audit_rows(desk_app)
    desk_rows = [r for r in rows if r.action != "account_create"]
    trail = [(r.username, r.action) for r in desk_rows]
    assert trail == [
        ("anna", "login_failed"), (None, "login_failed"),
        ("anna", "login"), ("admin", "login"), ("anna", "open"),
        ("anna", "claim"), ("anna", "reply"), ("anna", "note"), ("admin", "join"),
        ("admin", "whisper"), ("admin", "take_over"), ("admin", "close"), ("anna", "logout"),
    ]
    assert all(r.address == "127.0.0.1" for r in desk_rows)
    on_conversation = [r.action for r in rows if r.conversation_id == conversation]
    assert on_conversation[0] == "open" and on_conversation[-1] == "close"
    ghost_row = desk_rows[1]
    assert ghost_row.details == {"known_account": False} and ghost_row.agent_id is None
    assert "my secret pass" not in repr([(r.username, r.details) for r in rows])
    created = [r for r in rows if r.action == "account_create"]
    assert [(r.username, r.details) for r in created][-1] == (
        "cli", {"account": "anna", "role": "agent"})
    reply = next(r for r in rows if r.action == "reply")
    assert set(reply.details or {}) == {"message_id"}, "the text stays in the transcript"
    assert user not in repr([r.details for r in rows])


async def test_account_changes_are_audited(desk_app: Desk) -> None:
    accounts = desk_app.module.accounts
    await accounts.create("boris", "boris-password", role="agent")
    await accounts.set_password("boris", "new-password-1")
    await accounts.set_active("boris", False)
    await accounts.set_active("boris", False)  # no change, no entry
    await accounts.set_active("boris", True)
    rows = [r for r in await audit_rows(desk_app) if (r.details or {}).get("account") == "boris"]
    assert [r.action for r in rows] == [
        "account_create", "account_password", "account_disable", "account_enable"]
    assert {r.username for r in rows} == {"cli"}
    startup = [r for r in await audit_rows(desk_app)
               if (r.details or {}).get("account") == "admin"]
    assert [(r.username, r.action) for r in startup] == [("startup", "account_create")]


async def test_opening_a_verified_subscribers_card_is_audited(desk_app: Desk) -> None:
    linked = await linked_customer(desk_app.services.db)
    await escalate(desk_app, linked.current)
    conversation = linked.current
    admin = await desk_app.admin()
    detail = await conversation_of(desk_app, admin, conversation)
    assert detail["card"]["identity"]["verified_phone"]
    actions = [r.action for r in await audit_rows(desk_app, conversation)]
    assert actions == ["open", "view_personal_data"]


async def test_a_reply_stores_the_longest_silence(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    async with desk_app.services.db.transaction() as session:  # escalated ten minutes ago
        await session.execute(update(Handoff).where(Handoff.conversation_id == conversation)
                              .values(created_at=utcnow() - timedelta(minutes=10)))
    assert (await desk_app.post(anna, conversation, "messages", {"text": "Здравствуйте"})
            ).status_code == 201
    async with desk_app.services.db.sessions() as session:
        handoff = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation))
    assert handoff is not None and handoff.longest_silence_seconds is not None
    assert 595 < handoff.longest_silence_seconds < 660
