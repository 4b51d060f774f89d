"""Skills-based routing (#15): the skills file is validated at start-up; a handoff takes the
skill of its topic; each agent is offered the handoffs of their skills first, and everyone
after ``ROUTING_FALLBACK_SECONDS``; the wait estimate counts the skill's agents; supervisors
set skills through the API or ``abonent agents skills`` (SQLite and PostgreSQL).

With the NLU down the keywords still understand "роуминг" (roaming, a technical topic) and
"баланс" (check_balance, billing); "позовите оператора" then hands over, and the card's topic
is what the subscriber asked about before.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import cli
from bot.config import get_settings
from bot.messages import utcnow
from bot.storage import Database
from handoff.queue import WaitPolicy, current_handoff, position_and_wait
from handoff.routing import SKILLS_FILE, Routing, RoutingConfigError, load_skills
from handoff.tables import Agent as AgentRow
from handoff.tables import AuditEntry
from tests.support.app import new_user
from tests.support.desk import Agent, Desk, running_desk
from tests.support.waiting import eventually

ROAMING = "роуминг не работает"  # the keywords say: roaming
BALANCE = "какой у меня баланс"  # the keywords say: check_balance
OPERATOR = "позовите оператора"  # human_request: hands over
UNKNOWN = "у меня странная проблема"  # no keyword: twice hands over, no topic


# -- the skills file -----------------------------------------------------------------------------


def test_the_shipped_skills_file_maps_topics_to_skills() -> None:
    skills = load_skills()
    assert skills.names == ("technical", "billing", "general")
    assert skills.skill_for("roaming_trouble") == "technical"  # through its family
    assert skills.skill_for("roaming") == "technical"
    assert skills.skill_for("roaming_prices") == "billing"  # a fine intent of its own
    assert skills.skill_for("check_balance_negative") == "billing"
    assert skills.skill_for("complaint") == "billing"
    assert skills.skill_for("greet") is None
    assert skills.skill_for(None) is None
    assert skills.skill_for("some_newer_intent") is None


def _broken(tmp_path: Path, text: str) -> str:
    path = tmp_path / "skills.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutingConfigError) as caught:
        Routing(fallback_seconds=60, skills_file=path)
    return str(caught.value)


GOOD_SKILLS = "skills:\n  technical: {ru: Техника, en: Technical}\n"


def test_an_unknown_intent_names_the_file_and_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, GOOD_SKILLS + "topics:\n  roaming: technical\n"
                                              "  teleportation: technical\n")
    assert "skills.yml:5: topics.teleportation: unknown intent 'teleportation'" in message


def test_an_unknown_skill_names_the_file_line_and_the_skills(tmp_path: Path) -> None:
    message = _broken(tmp_path, GOOD_SKILLS + "topics:\n  check_balance: billing\n")
    assert "skills.yml:4: topics.check_balance: unknown skill 'billing'" in message
    assert "the skills are technical" in message


def test_bad_skills_and_syntax_errors_name_the_line(tmp_path: Path) -> None:
    message = _broken(tmp_path, "skills:\n  technical: {ru: Техника}\n  Bad Name: {}\n")
    assert "skills.yml:2: skills.technical: labels: give at least ru and en" in message
    assert "skills.yml:3: skills.Bad Name: a skill name is" in message
    message = _broken(tmp_path, GOOD_SKILLS + "topics: [roaming\n")
    assert "skills.yml:" in message and "YAML syntax error" in message
    message = _broken(tmp_path, GOOD_SKILLS + GOOD_SKILLS)
    assert "skills.yml:3: skills: duplicate key 'skills'" in message


def test_the_routing_loads_the_file_when_it_is_built() -> None:
    routing = Routing(fallback_seconds=90)
    assert routing.fallback_seconds == 90
    assert routing.skill_for("tariff") == "billing"
    assert load_skills(SKILLS_FILE).names == routing.map.names


# -- the queue -----------------------------------------------------------------------------------


async def hand_over(desk: Desk, *texts: str) -> str:
    """A new subscriber says ``texts`` and waits for a person: their conversation id."""
    user = new_user()
    answer: dict[str, Any] = {}
    for text in texts:
        answer = await desk.say(user, text)
    assert answer["state"] == "waiting_agent", answer
    return str(answer["conversation_id"])


async def with_skills(desk: Desk, name: str, skills: list[str]) -> Agent:
    agent = await desk.create_agent(name)
    await desk.module.accounts.set_skills(name, skills)
    return agent


def waiting(queue: dict[str, Any]) -> list[tuple[str, str | None, bool, int]]:
    return [(i["conversation_id"], i["skill"], i["matches_skills"], i["position"])
            for i in queue["waiting"]]


async def test_each_agent_is_offered_their_skills_first(database_url: str) -> None:
    async with running_desk(database_url) as desk:
        tech = await with_skills(desk, "tom", ["technical"])
        bill = await with_skills(desk, "bella", ["billing", "general"])
        anyone = await desk.create_agent("nina")  # no skills set: nothing to match
        admin = await desk.admin()
        # the technical one came first, so by priority it leads
        roaming = await hand_over(desk, ROAMING, OPERATOR)
        balance = await hand_over(desk, BALANCE, OPERATOR)
        plain = await hand_over(desk, UNKNOWN, UNKNOWN)

        assert waiting(await desk.queue(tech)) == [
            (roaming, "technical", True, 1), (plain, None, True, 2),
            (balance, "billing", False, 3),
        ]
        assert waiting(await desk.queue(bill)) == [
            (balance, "billing", True, 1), (plain, None, True, 2),
            (roaming, "technical", False, 3),
        ]
        everything = [(roaming, "technical", True, 1), (balance, "billing", True, 2),
                      (plain, None, True, 3)]
        assert waiting(await desk.queue(anyone)) == everything
        assert waiting(await desk.queue(admin)) == everything  # supervisors: priority order

        # the one conversation view agrees with the queue
        response = await desk.http.get(f"/api/desk/conversations/{roaming}",
                                       headers=bill.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["skill"], body["matches_skills"], body["position"]) == (
            "technical", False, 3)
        # anyone may still claim what is not theirs
        assert (await desk.post(bill, roaming, "claim")).status_code == 200


async def test_a_handoff_nobody_with_the_skill_claimed_goes_to_everyone(
    database_url: str,
) -> None:
    async with running_desk(database_url, routing_fallback_seconds=1) as desk:
        await with_skills(desk, "tom", ["technical"])
        bill = await with_skills(desk, "bella", ["billing"])
        roaming = await hand_over(desk, ROAMING, OPERATOR)
        balance = await hand_over(desk, BALANCE, OPERATOR)

        async def offered() -> bool:
            return waiting(await desk.queue(bill)) == [
                (roaming, "technical", True, 1), (balance, "billing", True, 2),
            ]

        await eventually(offered)


async def test_the_wait_estimate_counts_the_agents_of_the_skill(database_url: str) -> None:
    async with running_desk(database_url, handoff_agent_concurrency=1,
                            handoff_default_handle_minutes=10) as desk:
        # logged in, so online: one technical agent, two billing agents
        await with_skills(desk, "tom", ["technical"])
        await with_skills(desk, "bella", ["billing"])
        await with_skills(desk, "boris", ["billing"])
        first = await hand_over(desk, ROAMING, OPERATOR)
        second = await hand_over(desk, ROAMING, OPERATOR)
        balance = await hand_over(desk, BALANCE, OPERATOR)
        policy = WaitPolicy(concurrency=1, default_handle_minutes=10)

        async def estimate(conversation_id: str) -> tuple[int, int]:
            async with desk.services.db.sessions() as session:
                handoff = await current_handoff(session, conversation_id)
                assert handoff is not None
                return await position_and_wait(session, handoff, policy, utcnow())

        # among technical handoffs only; one technical agent: the second waits a full round
        assert await estimate(first) == (1, 1)
        assert await estimate(second) == (2, 10)
        # the billing one is first of its skill, whatever waits ahead in other skills
        assert await estimate(balance) == (1, 1)


# -- the API and the command line ------------------------------------------------------------------


async def test_supervisors_read_and_set_skills(database_url: str) -> None:
    async with running_desk(database_url) as desk:
        anna = await desk.create_agent("anna")
        admin = await desk.admin()

        for method, path in [("GET", "/api/desk/agents"), ("GET", "/api/desk/skills"),
                             ("PUT", "/api/desk/agents/anna/skills")]:
            as_agent = await desk.http.request(method, path, headers=anna.headers,
                                               json={"skills": ["technical"]})
            assert as_agent.status_code == 403, (path, as_agent.text)
            assert (await desk.http.request(method, path, json={"skills": []})
                    ).status_code == 401

        skills = (await desk.http.get("/api/desk/skills", headers=admin.headers)).json()
        assert [s["name"] for s in skills["skills"]] == ["technical", "billing", "general"]
        assert skills["skills"][0]["labels"]["en"] == "Technical"
        assert skills["topics"]["roaming"] == "technical"
        assert skills["fallback_seconds"] == get_settings().routing_fallback_seconds

        put = await desk.http.put("/api/desk/agents/anna/skills", headers=admin.headers,
                                  json={"skills": ["general", "technical", "general"]})
        assert put.status_code == 200, put.text
        assert put.json() == {"username": "anna", "skills": ["technical", "general"]}
        unknown = await desk.http.put("/api/desk/agents/anna/skills", headers=admin.headers,
                                      json={"skills": ["telepathy"]})
        assert unknown.status_code == 422
        assert "telepathy" in unknown.json()["detail"]
        assert "technical, billing, general" in unknown.json()["detail"]
        nobody = await desk.http.put("/api/desk/agents/ghost/skills", headers=admin.headers,
                                     json={"skills": ["technical"]})
        assert nobody.status_code == 404

        team = (await desk.http.get("/api/desk/agents", headers=admin.headers)).json()
        rows = {row["username"]: row for row in team}
        assert rows["anna"]["skills"] == ["technical", "general"]
        assert rows["anna"]["role"] == "agent" and rows["anna"]["active"] is True
        assert rows["anna"]["display_name"] == "Anna" and rows["anna"]["last_seen_at"]
        assert rows["admin"]["skills"] == [] and rows["admin"]["role"] == "supervisor"

        trail = (await desk.http.get("/api/desk/audit", params={"action": "account_skills"},
                                     headers=admin.headers)).json()
        [entry] = trail["entries"]
        assert entry["agent"] == "admin"
        assert entry["details"]["account"] == "anna"
        assert entry["details"]["skills"] == ["technical", "general"]


def test_cli_sets_and_clears_skills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert cli.main(["agents", "create", "anna"]) == 0
        assert cli.main(["agents", "skills", "anna", "technical, general"]) == 0
        assert cli.main(["agents", "list"]) == 0
        listed = capsys.readouterr().out
        assert "skills technical,general" in listed
        assert cli.main(["agents", "skills", "anna", "technical,telepathy"]) == 1
        assert cli.main(["agents", "skills", "ghost", "technical"]) == 1
        failed = capsys.readouterr().err
        assert "telepathy" in failed and "valid: technical, billing, general" in failed
        assert "no agent 'ghost'" in failed
        assert cli.main(["agents", "skills", "anna", ""]) == 0
        assert "no skills" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()

    async def stored() -> tuple[list[str] | None, list[tuple[str | None, Any]]]:
        db = Database(url)
        try:
            async with db.sessions() as session:
                skills = await session.scalar(
                    select(AgentRow.skills).where(AgentRow.username == "anna"))
                rows = await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "account_skills")
                    .order_by(AuditEntry.id))
                return skills, [(r.username, (r.details or {}).get("skills")) for r in rows]
        finally:
            await db.close()

    skills, trail = asyncio.run(stored())
    assert skills is None
    assert [s for _, s in trail] == [["technical", "general"], []]
    assert all(who is not None and who.startswith("cli:") for who, _ in trail)
