"""Live updates (server-sent events), the page's assets, the OpenAPI page and the CLI."""

from __future__ import annotations

import asyncio
import getpass
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import cli
from bot.config import get_settings
from bot.storage import Database
from handoff.auth import Accounts
from handoff.tables import AuditEntry
from tests.support.app import new_user
from tests.support.desk import Desk
from tests.support.sse import named_events

STATIC = Path(__file__).resolve().parents[2] / "handoff" / "static"




async def test_the_event_stream_pushes_a_new_handoff(desk_app: Desk) -> None:
    agent = await desk_app.create_agent("anna")
    async with desk_app.http.stream("GET", "/api/desk/events", headers=agent.headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = named_events(stream.aiter_lines(), "queue")
        first = await asyncio.wait_for(anext(events), 5)
        assert first["waiting"] == []
        user = new_user()  # the NLU is down: the second message no keyword knows escalates
        await desk_app.say(user, "у меня странная проблема")
        answer = await desk_app.say(user, "у меня странная проблема")
        assert answer["state"] == "waiting_agent"

        async def until_it_shows() -> dict[str, Any]:
            async for queue in events:
                if any(i["conversation_id"] == answer["conversation_id"]
                       for i in queue["waiting"]):
                    return queue
            raise AssertionError("the stream ended")

        queue = await asyncio.wait_for(until_it_shows(), 5)  # long before the 15 s refresh
        assert queue["waiting"][0]["card"]["reason"] == "nlu_unavailable"


async def test_openapi_documents_the_desk_api(desk_app: Desk) -> None:
    spec = (await desk_app.http.get("/openapi.json")).json()
    for path in ("/api/desk/login", "/api/desk/queue", "/api/desk/stats",
                 "/api/desk/conversations/{conversation_id}/claim",
                 "/api/desk/conversations/{conversation_id}/messages",
                 "/api/desk/conversations/{conversation_id}/close",
                 "/api/desk/conversations/{conversation_id}/return-to-bot"):
        assert path in spec["paths"], path
    claim = spec["paths"]["/api/desk/conversations/{conversation_id}/claim"]["post"]
    assert "409" in claim["responses"]
    assert "/desk" not in spec["paths"], "the page is not an API"


async def test_assets_are_served_and_nothing_else(desk_app: Desk) -> None:
    js = await desk_app.http.get("/desk/assets/desk.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert (await desk_app.http.get("/desk/assets/..%2F__init__.py")).status_code == 404
    assert (await desk_app.http.get("/desk/assets/desk.html")).status_code == 404


def test_the_page_never_renders_text_as_markup() -> None:
    for name in ("common.js", "desk.js", "login.js", "monitor.js", "analytics.js",
                 "schedule.js"):
        source = (STATIC / name).read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{name} uses {sink}"
    for name in ("desk.html", "login.html", "monitor.html", "analytics.html",
                 "schedule.html"):
        assert "<script>" not in (STATIC / name).read_text(encoding="utf-8"), "no inline scripts"


def test_cli_creates_an_agent_with_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert cli.main(["agents", "create", "anna", "--role", "supervisor"]) == 0
        monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
        assert cli.main(["agents", "create", "anna", "--role", "agent"]) == 1
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert cli.main(["agents", "create", "boris"]) == 1
        assert cli.main(["agents", "list"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert "created supervisor 'anna'" in out.out
    assert "taken" in out.err and "8 characters" in out.err
    assert "correct horse" not in out.out + out.err

    async def login() -> str:
        db = Database(url)
        try:
            accounts = Accounts(db, session_ttl=timedelta(hours=1))
            return (await accounts.authenticate("anna", "correct horse battery")).role
        finally:
            await db.close()

    assert asyncio.run(login()) == "supervisor"

    async def audited() -> list[tuple[str | None, str]]:
        db = Database(url)
        try:
            async with db.sessions() as session:
                rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                return [(row.username, row.action) for row in rows]
        finally:
            await db.close()

    # who ran the command is on the trail: the one account that was created
    assert asyncio.run(audited()) == [(f"cli:{getpass.getuser()}", "account_create")]
