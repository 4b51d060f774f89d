"""The desk's audit trail through the real app (SQLite and PostgreSQL): what the desk's actions
leave in it, ``GET /api/desk/audit`` with its filters and pages, who may read it, and that
nobody can change it: the app has no such route and the database refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from handoff.audit import Actor, AuditAction, entry
from handoff.tables import AuditEntry
from tests.support.app import new_user
from tests.support.desk import Agent, Desk

UNKNOWN = "у меня странная проблема"  # no keyword the bot knows while the NLU is down
LOOPBACK = "127.0.0.1"  # where the tests' HTTP client connects from


async def escalated(desk: Desk, text: str = UNKNOWN) -> tuple[str, str, dict[str, Any]]:
    """A new subscriber whose conversation waits in the queue: (user, conversation, answer).
    With the NLU down the second misunderstood message hands over."""
    user = new_user()
    answer = await desk.say(user, text)
    if answer["state"] != "waiting_agent":
        answer = await desk.say(user, text)
    assert answer["state"] == "waiting_agent", answer
    return user, answer["conversation_id"], answer


async def audit(desk: Desk, reader: Agent, **params: Any) -> dict[str, Any]:
    response = await desk.http.get("/api/desk/audit", params=params, headers=reader.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def seed(desk: Desk, rows: list[tuple[str, AuditAction, datetime, str | None]]) -> None:
    """Entries at chosen times: (username, action, at, conversation_id). Appending is what the
    trail allows; the time is set so the date filters have something to cut."""
    async with desk.services.db.transaction() as session:
        for username, action, at, conversation_id in rows:
            row = entry(Actor(None, "10.1.2.3", username), action,
                        conversation_id=conversation_id, details={"seeded": True})
            row.at = at
            session.add(row)


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).astimezone(UTC)


async def test_a_desk_session_is_recorded_in_order_with_who_and_where(desk_app: Desk) -> None:
    _, conversation, _ = await escalated(desk_app)
    anna = await desk_app.create_agent("anna")  # logs in
    opened = await desk_app.http.get(f"/api/desk/conversations/{conversation}",
                                     headers=anna.headers)
    assert opened.status_code == 200, opened.text
    assert (await desk_app.post(anna, conversation, "claim")).status_code == 200
    sent = await desk_app.post(anna, conversation, "messages", {"text": "Здравствуйте!"})
    assert sent.status_code == 201, sent.text
    noted = await desk_app.post(anna, conversation, "notes", {"text": "проверить тариф"})
    assert noted.status_code == 201, noted.text
    closed = await desk_app.post(anna, conversation, "close", {"resolution": "explained"})
    assert closed.status_code == 200, closed.text

    admin = await desk_app.admin()
    trail = await audit(desk_app, admin, agent="anna")
    entries = trail["entries"][::-1]  # the API gives newest first
    assert [e["action"] for e in entries] == [
        "login", "open", "claim", "reply", "note", "close"]
    assert {e["agent"] for e in entries} == {"anna"}
    assert {e["address"] for e in entries} == {LOOPBACK}
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert all(e["at"].endswith("Z") or e["at"].endswith("+00:00") for e in entries)
    login, *actions = entries
    assert login["conversation_id"] is None
    assert {e["conversation_id"] for e in actions} == {conversation}
    assert len({e["handoff_id"] for e in actions}) == 1 and actions[0]["handoff_id"]
    assert actions[2]["details"]["message_id"] == sent.json()["id"]
    assert actions[3]["details"]["note_id"] == noted.json()["id"]
    # ids and counts, never what anybody wrote
    dumped = str(trail)
    assert "Здравствуйте" not in dumped and "проверить" not in dumped and UNKNOWN not in dumped

    # the same story, narrowed to the conversation and to one action
    by_conversation = await audit(desk_app, admin, conversation_id=conversation)
    assert [e["action"] for e in by_conversation["entries"][::-1]] == [
        "open", "claim", "reply", "note", "close"]
    replies = await audit(desk_app, admin, action="reply")
    assert [e["id"] for e in replies["entries"]] == [actions[2]["id"]]


async def test_filters_pages_and_dates(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    conversation = "ab" * 16
    # Europe/Minsk (the default DESK_TIMEZONE) is UTC+3: a date filter means a Minsk day
    await seed(desk_app, [
        ("qa-olga", AuditAction.OPEN, at("2026-03-01T20:00:00Z"), conversation),  # 1st 23:00
        ("qa-olga", AuditAction.CLAIM, at("2026-03-01T22:30:00Z"), conversation),  # 2nd 01:30
        ("qa-olga", AuditAction.REPLY, at("2026-03-02T12:00:00Z"), conversation),
        ("qa-olga", AuditAction.NOTE, at("2026-03-02T20:59:00Z"), None),  # 2nd 23:59
        ("qa-olga", AuditAction.CLOSE, at("2026-03-02T21:30:00Z"), conversation),  # 3rd 00:30
        ("qa-ivan", AuditAction.REPLY, at("2026-03-02T12:00:01Z"), conversation),
    ])

    everything = await audit(desk_app, admin, agent="qa-olga")
    assert [e["action"] for e in everything["entries"]] == [
        "close", "note", "reply", "claim", "open"], "newest first"
    first = everything["entries"][0]
    assert first["agent"] == "qa-olga" and first["address"] == "10.1.2.3"
    assert first["at"] in ("2026-03-02T21:30:00Z", "2026-03-02T21:30:00+00:00")
    assert first["details"] == {"seeded": True} and first["conversation_id"] == conversation
    assert everything["page"] == 1 and everything["page_size"] == 50
    assert everything["has_more"] is False

    day = await audit(desk_app, admin, agent="qa-olga", **{"from": "2026-03-02"},
                      to="2026-03-02")
    assert [e["action"] for e in day["entries"]] == ["note", "reply", "claim"]
    moments = await audit(desk_app, admin, agent="qa-olga",
                          **{"from": "2026-03-02T12:00:00Z"}, to="2026-03-02T23:59:00+03:00")
    assert [e["action"] for e in moments["entries"]] == ["note", "reply"], "both ends included"
    naive_is_utc = await audit(desk_app, admin, agent="qa-olga", to="2026-03-01T20:00:00")
    assert [e["action"] for e in naive_is_utc["entries"]] == ["open"]

    replies = await audit(desk_app, admin, action="reply", conversation_id=conversation)
    assert [e["agent"] for e in replies["entries"]] == ["qa-ivan", "qa-olga"]
    assert (await audit(desk_app, admin, agent="qa-nobody"))["entries"] == []

    pages = [await audit(desk_app, admin, agent="qa-olga", page=n, page_size=2)
             for n in (1, 2, 3, 4)]
    assert [[e["action"] for e in p["entries"]] for p in pages] == [
        ["close", "note"], ["reply", "claim"], ["open"], []]
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    assert [p["page"] for p in pages] == [1, 2, 3, 4] and pages[0]["page_size"] == 2


@pytest.mark.parametrize("params", [
    {"action": "delete_everything"},
    {"action": "<script>alert(1)</script>"},
    {"page": "0"},
    {"page": "-1"},
    {"page": "10000000000000000000000"},
    {"page_size": "0"},
    {"page_size": "201"},
    {"page_size": "many"},
    {"from": "yesterday"},
    {"to": "2026-13-45"},
    {"from": "2026-03-02", "to": "2026-03-01"},
    {"to": "9999-12-31"},
    {"conversation_id": "not-a-conversation"},
    {"conversation_id": "AB" * 16},
    {"agent": "x" * 65},
    {"agent": "anna\x00"},
    {"agent": ""},
])
async def test_bad_filters_are_a_clear_422(desk_app: Desk, params: dict[str, str]) -> None:
    admin = await desk_app.admin()
    response = await desk_app.http.get("/api/desk/audit", params=params, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_the_largest_page_is_200(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    assert (await audit(desk_app, admin, page_size=200))["page_size"] == 200


async def test_only_supervisors_read_the_trail(desk_app: Desk) -> None:
    anna = await desk_app.create_agent("anna")
    as_agent = await desk_app.http.get("/api/desk/audit", headers=anna.headers)
    assert as_agent.status_code == 403 and as_agent.json()["detail"] == "supervisors only"
    nobody = await desk_app.http.get("/api/desk/audit")
    assert nobody.status_code == 401
    stranger = await desk_app.http.get("/api/desk/audit",
                                       headers={"Authorization": "Bearer not-a-token"})
    assert stranger.status_code == 401
    olga = await desk_app.create_agent("olga", role="supervisor")
    assert [e["action"] for e in (await audit(desk_app, olga, agent="anna"))["entries"]] == [
        "login"]


async def test_no_route_changes_the_trail(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    await seed(desk_app, [("qa-olga", AuditAction.OPEN, at("2026-03-01T20:00:00Z"), None)])
    [seeded] = (await audit(desk_app, admin, agent="qa-olga"))["entries"]
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        response = await desk_app.http.request(method, "/api/desk/audit", json={},
                                               headers=admin.headers)
        assert response.status_code == 405, (method, response.text)
        one = await desk_app.http.request(method, f"/api/desk/audit/{seeded['id']}", json={},
                                          headers=admin.headers)
        assert one.status_code in (404, 405), (method, one.text)
    schema = (await desk_app.http.get("/openapi.json")).json()
    audit_paths = {path: set(ops) for path, ops in schema["paths"].items()
                   if "audit" in path or "replay" in path}
    assert audit_paths == {"/api/desk/audit": {"get"},
                           "/api/desk/conversations/{conversation_id}/replay": {"get"}}
    assert (await audit(desk_app, admin, agent="qa-olga"))["entries"] == [seeded]


async def test_the_database_refuses_to_change_or_delete_an_entry(desk_app: Desk) -> None:
    """The triggers of migration 0012, through the app's own engine."""
    await desk_app.module.ready()  # the start-up account (and its entry) exists
    await seed(desk_app, [("qa-olga", AuditAction.OPEN, at("2026-03-01T20:00:00Z"), None)])
    db = desk_app.services.db
    trail = select(AuditEntry.id, AuditEntry.action, AuditEntry.username).order_by(AuditEntry.id)
    async with db.sessions() as session:
        before = (await session.execute(trail)).all()
    target = before[-1].id
    statements = [
        ("UPDATE desk_audit SET action = 'login' WHERE id = :id", {"id": target}),
        ("UPDATE desk_audit SET username = NULL", {}),
        ("DELETE FROM desk_audit WHERE id = :id", {"id": target}),
        ("DELETE FROM desk_audit", {}),
    ]
    if not db.is_sqlite:
        statements.append(("TRUNCATE desk_audit", {}))
    for sql, params in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin() as connection:
                await connection.execute(text(sql), params)
    # nor through the ORM, should a code path ever try
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            row = await session.get(AuditEntry, target)
            assert row is not None
            row.action = "login"
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            row = await session.get(AuditEntry, target)
            await session.delete(row)
    async with db.sessions() as session:
        after = (await session.execute(trail)).all()
        assert after == before
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == len(before)
