"""Workforce planning through the real app (#16): the forecast and staffing from a seeded
history, a built week that covers its requirement, and the swap and time off rules on a
roster written straight into the database (so every count below is known).

The roster, next week (Europe/Minsk), requirement 1 agent on Monday 09:00-21:00, 0 elsewhere:

| agent | shifts                                              |
|-------|-----------------------------------------------------|
| anna  | Monday 09:00-17:00, Tuesday 09:00-17:00             |
| boris | Tuesday 09:00-17:00                                 |
| cora  | Monday 13:00-21:00                                  |
| dan   | Monday 12:00-16:00 (an extra around midday)         |
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.messages import utcnow
from bot.storage import Conversation, ConversationState, Customer, Database, Identity
from handoff.tables import (
    Agent as AgentRow,
)
from handoff.tables import (
    Handoff,
    HandoffStatus,
    ShiftStatus,
    WorkforcePlan,
    WorkforceShift,
)
from tests.support.desk import Agent, Desk

ZONE = ZoneInfo("Europe/Minsk")
BASE = "/api/desk/workforce"


def next_monday() -> date:
    today = utcnow().astimezone(ZONE).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=7)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def index(day: int, hour: int, minute: int = 0) -> int:
    """The interval of the week: day 0 = Monday."""
    return day * 48 + hour * 2 + minute // 30


async def get(desk: Desk, who: Agent, path: str, **params: Any) -> Any:
    response = await desk.http.get(BASE + path, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def post(desk: Desk, who: Agent, path: str, body: Any = None,
               **params: Any) -> httpx.Response:
    return await desk.http.post(BASE + path, json=body, params=params, headers=who.headers)


async def audit(desk: Desk, admin: Agent, action: str) -> list[dict[str, Any]]:
    response = await desk.http.get("/api/desk/audit", params={"action": action},
                                   headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["entries"]  # type: ignore[no-any-return]


# -- a history of handoffs ---------------------------------------------------------------------

async def seed_arrivals(db: Database, *, days: int = 21, per_interval: int = 2) -> None:
    """``per_interval`` closed handoffs in every half-hour 09:00-17:00 of the weekdays of the
    ``days`` days before today; each handled 240 s (claim to close)."""
    today = utcnow().astimezone(ZONE).date()
    async with db.transaction() as session:
        customer = Customer(lang="ru")
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel="webchat",
                            channel_user_id=uuid.uuid4().hex, address=uuid.uuid4().hex)
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            id=uuid.uuid4().hex, customer_id=customer.id, identity_id=identity.id,
            channel="webchat", lang="ru", misunderstandings=0, context={},
            state=ConversationState.CLOSED)
        session.add(conversation)
        await session.flush()
        for back in range(1, days + 1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            for half in range(18, 34):  # 09:00 .. 16:30
                for n in range(per_interval):
                    at = local(day, half // 2, 30 * (half % 2)) + timedelta(minutes=1 + 7 * n)
                    session.add(Handoff(
                        conversation_id=conversation.id, status=HandoffStatus.CLOSED,
                        reason="subscriber_request", channel="webchat", lang="ru", card={},
                        created_at=at, claimed_at=at + timedelta(seconds=30),
                        ended_at=at + timedelta(seconds=270)))


# -- a roster written straight into the database -----------------------------------------------

@dataclass
class Roster:
    week: date
    shifts: dict[str, int]  # "anna_mon" -> shift id


async def seed_roster(desk: Desk) -> Roster:
    week = next_monday()
    mon, tue = week, week + timedelta(days=1)
    required = [0] * 336
    for i in range(index(0, 9), index(0, 21)):
        required[i] = 1
    db = desk.services.db
    async with db.transaction() as session:
        ids = {name: agent_id for agent_id, name in await session.execute(
            select(AgentRow.id, AgentRow.username))}
        session.add(WorkforcePlan(week=week, params={}, intervals=[
            {"start": (local(week, 0) + timedelta(minutes=30 * i)).isoformat(),
             "contacts": float(r), "required": r} for i, r in enumerate(required)]))
        plan = {"anna_mon": ("anna", mon, 9, 8), "anna_tue": ("anna", tue, 9, 8),
                "boris_tue": ("boris", tue, 9, 8), "cora_mon": ("cora", mon, 13, 8),
                "dan_mon": ("dan", mon, 12, 4)}
        rows = {}
        for key, (who, day, hour, hours) in plan.items():
            start = local(day, hour)
            rows[key] = WorkforceShift(week=week, agent_id=ids[who], shift="day",
                                       starts_at=start, ends_at=start + timedelta(hours=hours),
                                       breaks=[], status=ShiftStatus.SCHEDULED)
        session.add_all(rows.values())
        await session.flush()
        return Roster(week, {key: row.id for key, row in rows.items()})


@dataclass
class Team:
    admin: Agent
    sam: Agent
    anna: Agent
    boris: Agent
    cora: Agent
    dan: Agent


@pytest.fixture
async def team(desk_app: Desk) -> Team:
    return Team(admin=await desk_app.admin(),
                sam=await desk_app.create_agent("sam", role="supervisor"),
                anna=await desk_app.create_agent("anna"),
                boris=await desk_app.create_agent("boris"),
                cora=await desk_app.create_agent("cora"),
                dan=await desk_app.create_agent("dan"))


# -- forecast, staffing, the built week ---------------------------------------------------------

async def test_forecast_and_staffing_learn_from_the_history(desk_app: Desk, team: Team) -> None:
    await seed_arrivals(desk_app.services.db)
    week = next_monday()
    shown = await get(desk_app, team.sam, "/forecast", **{"from": str(week), "weeks": 1})
    assert shown["from"] == str(week) and shown["interval_minutes"] == 30
    points = shown["points"]
    assert len(points) == 336
    assert points[index(0, 10)]["forecast"] == pytest.approx(2.0)
    assert points[index(0, 3)]["forecast"] == 0 and points[index(5, 10)]["forecast"] == 0
    assert all(p["actual"] is None for p in points)  # next week has not happened

    last_week = week - timedelta(days=14)  # a past week: the actuals beside the forecast
    past = (await get(desk_app, team.sam, "/forecast", **{"from": str(last_week + timedelta(
        days=3)), "weeks": 1}))["points"]  # a Thursday means its week
    assert datetime.fromisoformat(past[0]["start"]) == local(last_week, 0)
    assert past[index(1, 10)]["actual"] == 2 and past[index(1, 3)]["actual"] == 0

    staffing = await get(desk_app, team.sam, "/staffing", week=str(week))
    params = staffing["params"]
    # 240 s claim to close, two chats at once: 120 s of an agent per contact
    assert params["aht_seconds"] == 120 and params["service_level"] == 0.9
    assert params["target_seconds"] == 180 and params["shrinkage"] == 0.3
    busy, quiet = staffing["intervals"][index(0, 10)], staffing["intervals"][index(0, 3)]
    assert busy["contacts"] == pytest.approx(2.0)
    assert busy["raw_agents"] == 1 and busy["agents"] == 2  # ceil(1 / (1 - 0.3))
    assert quiet["agents"] == 0

    erlang = await desk_app.http.get(BASE + "/erlang", headers=team.sam.headers, params={
        "contacts": 100, "interval": 30, "aht": 180, "target": 20, "service_level": 0.8,
        "shrinkage": 0, "max_occupancy": 1})
    assert erlang.status_code == 200, erlang.text
    assert erlang.json()["raw_agents"] == 14  # the textbook example: 100 calls, 3 min, 80/20
    assert 0.8 <= erlang.json()["service_level"] < 1


async def test_the_built_week_covers_the_requirement_and_is_stored(
    desk_app: Desk, team: Team
) -> None:
    await seed_arrivals(desk_app.services.db)
    week = next_monday()
    never = await get(desk_app, team.sam, "/schedule", week=str(week))
    assert never["published_at"] is None and never["shifts"] == []
    assert max(i["required"] for i in never["intervals"]) == 2

    built = await post(desk_app, team.sam, "/schedule", week=str(week + timedelta(days=2)))
    assert built.status_code == 200, built.text
    schedule = built.json()
    assert schedule["week"] == str(week) and schedule["published_at"] is not None
    intervals = schedule["intervals"]
    assert len(intervals) == 336
    assert sum(i["required"] for i in intervals) > 0
    assert all(i["scheduled"] >= i["required"] for i in intervals), [
        i for i in intervals if i["scheduled"] < i["required"]]
    assert schedule["short"] == 0 and schedule["agent_hours"] > 0
    agents = {s["agent"] for s in schedule["shifts"]}
    assert agents <= {"anna", "boris", "cora", "dan"}  # agents only, never the supervisor
    assert {s["status"] for s in schedule["shifts"]} == {"scheduled"}

    again = await get(desk_app, team.sam, "/schedule", week=str(week))
    assert again == schedule  # read back from the database
    async with desk_app.services.db.sessions() as session:
        stored = (await session.scalars(
            select(WorkforceShift).where(WorkforceShift.week == week))).all()
    assert len(stored) == len(schedule["shifts"])

    anna = [s for s in schedule["shifts"] if s["agent"] == "anna"]
    mine = await get(desk_app, team.anna, "/shifts/mine", week=str(week))
    assert mine["shifts"] == anna
    first = datetime.fromisoformat(anna[0]["starts_at"]) if anna else None
    assert first is None or first.astimezone(ZONE).date() >= week

    rebuilt = await post(desk_app, team.sam, "/schedule", week=str(week))
    assert rebuilt.status_code == 200
    async with desk_app.services.db.sessions() as session:
        count = len((await session.scalars(
            select(WorkforceShift).where(WorkforceShift.week == week))).all())
    assert count == len(rebuilt.json()["shifts"])  # replaced, not added to
    entries = await audit(desk_app, team.admin, "schedule_publish")
    assert [e["details"]["week"] for e in entries] == [str(week), str(week)]
    assert entries[0]["agent"] == "sam"


async def test_no_agents_to_schedule_is_a_conflict(desk_app: Desk) -> None:
    sam = await desk_app.create_agent("sam", role="supervisor")
    response = await post(desk_app, sam, "/schedule")
    assert response.status_code == 409
    assert "no active agents" in response.json()["detail"]


# -- swaps -------------------------------------------------------------------------------------

async def test_a_hand_over_to_a_free_agent_is_approved_automatically(
    desk_app: Desk, team: Team
) -> None:
    roster = await seed_roster(desk_app)
    offered = await post(desk_app, team.anna, "/swaps", {"shift_id": roster.shifts["anna_mon"]})
    assert offered.status_code == 201, offered.text
    swap = offered.json()
    assert swap["status"] == "offered" and swap["offered_by"] == "anna"
    assert swap["shift"]["id"] == roster.shifts["anna_mon"]

    again = await post(desk_app, team.anna, "/swaps", {"shift_id": roster.shifts["anna_mon"]})
    assert again.status_code == 409  # already offered
    not_hers = await post(desk_app, team.anna, "/swaps", {"shift_id": roster.shifts["cora_mon"]})
    assert not_hers.status_code == 403
    assert (await post(desk_app, team.anna, "/swaps", {"shift_id": 999999})).status_code == 404
    own = await post(desk_app, team.anna, f"/swaps/{swap['id']}/accept", {})
    assert own.status_code == 409  # her own offer

    listed = await get(desk_app, team.boris, "/swaps")
    assert [s["id"] for s in listed["items"]] == [swap["id"]]  # others' open offers

    accepted = await post(desk_app, team.boris, f"/swaps/{swap['id']}/accept",
                          {"give_shift_id": None})
    assert accepted.status_code == 200, accepted.text
    done = accepted.json()
    assert done["status"] == "approved" and done["decided_by"] == "automatic"
    assert done["coverage_ok"] is True and done["impact"] == []
    assert done["accepted_by"] == "boris" and done["shift"]["status"] == "swapped"

    boris = (await get(desk_app, team.boris, "/shifts/mine", week=str(roster.week)))["shifts"]
    assert [(s["shift"], s["status"], s["starts_at"]) for s in boris] == [
        ("day", "scheduled", done["shift"]["starts_at"]),
        ("day", "scheduled", local(roster.week + timedelta(days=1), 9).isoformat()
         .replace("+00:00", "Z"))]
    schedule = await get(desk_app, team.sam, "/schedule", week=str(roster.week))
    assert schedule["short"] == 0  # the same coverage, another agent
    assert schedule["intervals"][index(0, 9)]["scheduled"] == 1

    for action in ("swap_offer", "swap_accept", "swap_approve"):
        [entry] = await audit(desk_app, team.admin, action)
        assert entry["details"]["swap_id"] == swap["id"]
    [approval] = await audit(desk_app, team.admin, "swap_approve")
    assert approval["details"]["automatic"] is True and approval["agent"] == "boris"


async def test_a_swap_that_would_break_coverage_needs_approval(
    desk_app: Desk, team: Team
) -> None:
    roster = await seed_roster(desk_app)
    swap = (await post(desk_app, team.anna, "/swaps",
                       {"shift_id": roster.shifts["anna_mon"]})).json()
    # cora takes anna's 09-17; her own 13-21 overlaps it and is released: 17-21 has nobody
    accepted = await post(desk_app, team.cora, f"/swaps/{swap['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    waiting = accepted.json()
    assert waiting["status"] == "accepted" and waiting["coverage_ok"] is False
    assert waiting["decided_by"] is None
    starts = [datetime.fromisoformat(i["start"]) for i in waiting["impact"]]
    monday = roster.week
    assert starts == [local(monday, 17) + timedelta(minutes=30 * n) for n in range(8)]
    assert {(i["required"], i["scheduled_after"]) for i in waiting["impact"]} == {(1, 0)}
    untouched = await get(desk_app, team.sam, "/schedule", week=str(monday))
    assert untouched["short"] == 0  # nothing moves before a supervisor decides

    assert (await post(desk_app, team.cora, f"/swaps/{swap['id']}/approve")).status_code == 403
    approved = await post(desk_app, team.sam, f"/swaps/{swap['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "sam"
    schedule = await get(desk_app, team.sam, "/schedule", week=str(monday))
    assert schedule["short"] == 8
    assert schedule["intervals"][index(0, 17)] == {
        "start": local(monday, 17).isoformat().replace("+00:00", "Z"), "required": 1,
        "scheduled": 0}
    cora = {(s["starts_at"], s["status"])
            for s in (await get(desk_app, team.cora, "/shifts/mine", week=str(monday)))["shifts"]}
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    assert cora == {(local(monday, 9).strftime(fmt), "scheduled"),
                    (local(monday, 13).strftime(fmt), "swapped")}
    again = await post(desk_app, team.sam, f"/swaps/{swap['id']}/approve")
    assert again.status_code == 409
    [entry] = await audit(desk_app, team.admin, "swap_approve")
    assert entry["agent"] == "sam" and entry["details"]["automatic"] is False
    assert entry["details"]["released"] == [roster.shifts["cora_mon"]]


async def test_a_supervisor_refuses_and_an_offer_is_withdrawn(
    desk_app: Desk, team: Team
) -> None:
    roster = await seed_roster(desk_app)
    swap = (await post(desk_app, team.anna, "/swaps",
                       {"shift_id": roster.shifts["anna_mon"]})).json()
    assert (await post(desk_app, team.cora, f"/swaps/{swap['id']}/accept")).json()[
        "status"] == "accepted"
    assert (await post(desk_app, team.sam, "/swaps/999999/refuse")).status_code == 404
    refused = await post(desk_app, team.sam, f"/swaps/{swap['id']}/refuse")
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused" and refused.json()["decided_by"] == "sam"
    schedule = await get(desk_app, team.sam, "/schedule", week=str(roster.week))
    assert schedule["short"] == 0
    assert {s["status"] for s in schedule["shifts"]} == {"scheduled"}
    assert (await post(desk_app, team.sam, f"/swaps/{swap['id']}/refuse")).status_code == 409

    second = (await post(desk_app, team.anna, "/swaps",
                         {"shift_id": roster.shifts["anna_mon"]})).json()
    assert (await post(desk_app, team.boris, f"/swaps/{second['id']}/cancel")).status_code == 403
    cancelled = await post(desk_app, team.anna, f"/swaps/{second['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    late = await post(desk_app, team.boris, f"/swaps/{second['id']}/accept")
    assert late.status_code == 409
    everyone = await get(desk_app, team.sam, "/swaps")
    assert [s["id"] for s in everyone["items"]] == [second["id"], swap["id"]]  # newest first
    assert (await get(desk_app, team.dan, "/swaps"))["items"] == []  # nothing open, none his
    [refusal] = await audit(desk_app, team.admin, "swap_refuse")
    assert refusal["details"] == {"swap_id": swap["id"]}
    [withdrawn] = await audit(desk_app, team.admin, "swap_cancel")
    assert withdrawn["details"]["swap_id"] == second["id"]


async def test_overlaps_and_time_off_are_conflicts(desk_app: Desk, team: Team) -> None:
    roster = await seed_roster(desk_app)
    tuesday = (await post(desk_app, team.anna, "/swaps",
                          {"shift_id": roster.shifts["anna_tue"]})).json()
    # dan would give anna his Monday 12-16, which overlaps her Monday 09-17
    clash = await post(desk_app, team.dan, f"/swaps/{tuesday['id']}/accept",
                       {"give_shift_id": roster.shifts["dan_mon"]})
    assert clash.status_code == 409 and "overlap" in clash.json()["detail"]
    not_his = await post(desk_app, team.dan, f"/swaps/{tuesday['id']}/accept",
                         {"give_shift_id": roster.shifts["cora_mon"]})
    assert not_his.status_code == 403

    monday = roster.week
    away = await post(desk_app, team.boris, "/time-off", {
        "from": local(monday, 0).isoformat(), "to": local(monday, 23, 59).isoformat()})
    assert away.status_code == 201, away.text
    assert (await post(desk_app, team.sam, f"/time-off/{away.json()['id']}/approve")
            ).status_code == 200
    offer = (await post(desk_app, team.anna, "/swaps",
                        {"shift_id": roster.shifts["anna_mon"]})).json()
    holiday = await post(desk_app, team.boris, f"/swaps/{offer['id']}/accept")
    assert holiday.status_code == 409 and "time off" in holiday.json()["detail"]
    assert (await get(desk_app, team.anna, "/swaps"))["items"][0]["status"] == "offered"


async def test_two_accepts_at_once_have_one_winner(desk_app: Desk, team: Team) -> None:
    roster = await seed_roster(desk_app)
    swap = (await post(desk_app, team.anna, "/swaps",
                       {"shift_id": roster.shifts["anna_tue"]})).json()
    first, second = await asyncio.gather(
        post(desk_app, team.cora, f"/swaps/{swap['id']}/accept"),
        post(desk_app, team.dan, f"/swaps/{swap['id']}/accept"))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = first if first.status_code == 200 else second
    assert winner.json()["status"] == "approved"
    assert len(await audit(desk_app, team.admin, "swap_accept")) == 1
    tuesday = local(roster.week + timedelta(days=1), 9).isoformat().replace("+00:00", "Z")
    holders = {s["agent"] for s in (await get(desk_app, team.sam, "/schedule",
                                              week=str(roster.week)))["shifts"]
               if s["starts_at"] == tuesday and s["status"] == "scheduled"}
    assert holders == {"boris", winner.json()["accepted_by"]}


# -- time off ----------------------------------------------------------------------------------

async def test_time_off_shows_its_impact_and_approval_takes_the_shifts_off(
    desk_app: Desk, team: Team
) -> None:
    roster = await seed_roster(desk_app)
    monday = roster.week
    response = await post(desk_app, team.anna, "/time-off", {
        "from": local(monday, 0).isoformat(), "to": local(monday, 23, 59).isoformat(),
        "reason": "dentist"})
    assert response.status_code == 201, response.text
    asked = response.json()
    assert asked["status"] == "requested" and asked["agent"] == "anna"
    assert asked["impact"]["shifts"] == 1
    # without anna, 09:00-12:00 has nobody (dan starts at 12:00, cora at 13:00)
    assert [datetime.fromisoformat(s["start"]) for s in asked["impact"]["short"]] == [
        local(monday, 9) + timedelta(minutes=30 * n) for n in range(6)]
    overlapping = await post(desk_app, team.anna, "/time-off", {
        "from": local(monday, 12).isoformat(), "to": local(monday, 20).isoformat()})
    assert overlapping.status_code == 409
    assert (await post(desk_app, team.anna, f"/time-off/{asked['id']}/approve")
            ).status_code == 403
    assert (await get(desk_app, team.boris, "/time-off"))["items"] == []  # anna's own

    approved = await post(desk_app, team.sam, f"/time-off/{asked['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "sam"
    mine = (await get(desk_app, team.anna, "/shifts/mine", week=str(monday)))["shifts"]
    assert {(s["id"], s["status"]) for s in mine} == {
        (roster.shifts["anna_mon"], "off"), (roster.shifts["anna_tue"], "scheduled")}
    schedule = await get(desk_app, team.sam, "/schedule", week=str(monday))
    assert schedule["intervals"][index(0, 9)]["scheduled"] == 0
    assert schedule["short"] == 6
    assert (await post(desk_app, team.sam, f"/time-off/{asked['id']}/refuse")).status_code == 409

    tuesday = roster.week + timedelta(days=1)
    other = (await post(desk_app, team.boris, "/time-off", {
        "from": local(tuesday, 0).isoformat(), "to": local(tuesday, 23).isoformat()})).json()
    assert other["impact"] == {"shifts": 1, "short": []}  # nothing required on Tuesday
    refused = await post(desk_app, team.sam, f"/time-off/{other['id']}/refuse")
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    boris = (await get(desk_app, team.boris, "/shifts/mine", week=str(monday)))["shifts"]
    assert [s["status"] for s in boris] == ["scheduled"]
    everyone = await get(desk_app, team.sam, "/time-off")
    assert [t["id"] for t in everyone["items"]] == [other["id"], asked["id"]]
    assert [e["details"]["time_off_id"] for e in await audit(
        desk_app, team.admin, "time_off_request")] == [other["id"], asked["id"]]
    [approval] = await audit(desk_app, team.admin, "time_off_approve")
    assert approval["details"]["shifts_off"] == [roster.shifts["anna_mon"]]
    [refusal] = await audit(desk_app, team.admin, "time_off_refuse")
    assert refusal["details"] == {"time_off_id": other["id"]}


@pytest.mark.parametrize("body", [
    {"from": "2026-12-10T10:00:00Z", "to": "2026-12-10T09:00:00Z"},
    {"from": "2026-12-01T00:00:00Z", "to": "2027-01-05T00:00:00Z"},
    {"from": "2026-12-10T10:00:00Z", "to": "2026-12-10T12:00:00Z", "reason": "x" * 501},
    {"from": "not a time", "to": "2026-12-10T12:00:00Z"},
])
async def test_bad_time_off_is_422(desk_app: Desk, body: dict[str, Any]) -> None:
    anna = await desk_app.create_agent("anna")
    response = await post(desk_app, anna, "/time-off", body)
    assert response.status_code == 422, response.text


# -- who may do what ---------------------------------------------------------------------------

SUPERVISOR_ONLY = [("GET", "/forecast"), ("GET", "/staffing"), ("GET", "/schedule"),
                   ("GET", "/erlang?contacts=1&aht=60"), ("POST", "/schedule"),
                   ("POST", "/swaps/1/approve"), ("POST", "/swaps/1/refuse"),
                   ("POST", "/time-off/1/approve"), ("POST", "/time-off/1/refuse")]
EVERY_ROUTE = [*SUPERVISOR_ONLY, ("GET", "/shifts/mine"), ("GET", "/swaps"), ("POST", "/swaps"),
               ("POST", "/swaps/1/accept"), ("POST", "/swaps/1/cancel"), ("GET", "/time-off"),
               ("POST", "/time-off")]


async def test_agents_get_403_and_strangers_401(desk_app: Desk) -> None:
    anna = await desk_app.create_agent("anna")
    for method, path in SUPERVISOR_ONLY:
        response = await desk_app.http.request(method, BASE + path, headers=anna.headers)
        assert response.status_code == 403, (method, path, response.text)
    for method, path in EVERY_ROUTE:
        response = await desk_app.http.request(method, BASE + path, json={})
        assert response.status_code == 401, (method, path, response.text)


async def test_the_routes_are_in_the_openapi_page(desk_app: Desk) -> None:
    spec = (await desk_app.http.get("/openapi.json")).json()
    paths = {f"{method.upper()} {path}" for path, item in spec["paths"].items()
             for method in item if path.startswith(BASE)}
    assert paths == {f"{m} {BASE}{p}" for m, p in [
        ("GET", "/forecast"), ("GET", "/staffing"), ("GET", "/erlang"), ("POST", "/schedule"),
        ("GET", "/schedule"), ("GET", "/shifts/mine"), ("GET", "/swaps"), ("POST", "/swaps"),
        ("POST", "/swaps/{swap_id}/accept"), ("POST", "/swaps/{swap_id}/approve"),
        ("POST", "/swaps/{swap_id}/refuse"), ("POST", "/swaps/{swap_id}/cancel"),
        ("POST", "/time-off"), ("GET", "/time-off"), ("POST", "/time-off/{request_id}/approve"),
        ("POST", "/time-off/{request_id}/refuse")]}
    accept = spec["paths"][f"{BASE}/swaps/{{swap_id}}/accept"]["post"]
    assert accept["tags"] == ["workforce planning"]
    assert {"401", "403", "404", "409"} <= set(accept["responses"])
