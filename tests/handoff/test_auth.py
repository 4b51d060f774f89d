"""Logins: every desk route needs one; the page's cookie is HttpOnly + SameSite; failed logins
are throttled; ABONENT_ADMIN_PASSWORD makes the supervisor ``admin``. (Abuse: test_login_abuse.)
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.storage import Database
from handoff.auth import Accounts
from handoff.errors import InvalidCredentials
from handoff.tables import Agent, AgentSession
from tests.support.desk import ADMIN_PASSWORD, Desk, running_desk

PROTECTED = [
    ("GET", "/api/desk/queue"),
    ("GET", "/api/desk/me"),
    ("GET", "/api/desk/stats"),
    ("GET", "/api/desk/events"),
    ("GET", "/api/desk/conversations/abc"),
    ("POST", "/api/desk/conversations/abc/claim"),
    ("POST", "/api/desk/conversations/abc/messages"),
    ("POST", "/api/desk/conversations/abc/notes"),
    ("POST", "/api/desk/conversations/abc/close"),
    ("POST", "/api/desk/conversations/abc/return-to-bot"),
    ("POST", "/api/desk/logout"),
]


async def test_every_desk_route_needs_a_login(desk_app: Desk) -> None:
    for method, path in PROTECTED:
        body = {"text": "hi"} if path.endswith(("messages", "notes")) else None
        anonymous = await desk_app.http.request(method, path, json=body)
        assert anonymous.status_code == 401, (path, anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        forged = await desk_app.http.request(method, path, json=body,
                                             headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401, path


async def test_the_page_sends_strangers_to_the_login_page(desk_app: Desk) -> None:
    page = await desk_app.http.get("/desk", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/desk/login"
    login = await desk_app.http.get("/desk/login")
    assert login.status_code == 200 and "/desk/assets/login.js" in login.text
    assert "script-src 'self'" in login.headers["content-security-policy"]


async def test_admin_logs_in_and_the_token_works(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    me = await desk_app.http.get("/api/desk/me", headers=admin.headers)
    assert me.json()["agent"] == {"username": "admin", "role": "supervisor",
                                  "display_name": "Administrator"}
    logout = await desk_app.http.post("/api/desk/logout", headers=admin.headers)
    assert logout.status_code == 204
    assert (await desk_app.http.get("/api/desk/me", headers=admin.headers)).status_code == 401


async def test_wrong_passwords_are_refused_then_rate_limited(desk_app: Desk) -> None:
    for _ in range(5):
        wrong = await desk_app.http.post("/api/desk/login",
                                         json={"username": "admin", "password": "guess"})
        assert wrong.status_code == 401
        assert "token" not in wrong.text
    blocked = await desk_app.http.post("/api/desk/login",
                                       json={"username": "admin", "password": ADMIN_PASSWORD})
    assert blocked.status_code == 429, "even the right password waits out the window"
    assert int(blocked.headers["retry-after"]) > 0
    unknown = await desk_app.http.post("/api/desk/login",
                                       json={"username": "nobody", "password": "whatever"})
    assert unknown.status_code == 401, "unknown users look like wrong passwords"


async def test_the_page_login_sets_an_httponly_samesite_cookie(database_url: str) -> None:
    # plain HTTP: httpx (like a browser off loopback) never sends a Secure cookie over http://
    async with running_desk(database_url, plain_http=True) as desk_app, httpx.AsyncClient(
        base_url=desk_app.url
    ) as browser:
        response = await browser.post(
            "/desk/session", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200
        assert "token" not in response.json(), "the page's JavaScript never sees the token"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        page = await browser.get("/desk")
        assert page.status_code == 200 and "/desk/assets/desk.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert (await browser.get("/api/desk/queue")).status_code == 200
        # a cookie alone changes nothing: a cross-site form could send it, but not the header
        unknown = "/api/desk/conversations/" + "0" * 32 + "/claim"
        plain = await browser.post(unknown)
        assert plain.status_code == 403
        marked = await browser.post(unknown, headers={"X-Desk-Request": "1"})
        assert marked.status_code == 404


async def test_sessions_store_only_a_hash_of_the_token(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    async with desk_app.services.db.sessions() as session:
        hashes = (await session.scalars(select(AgentSession.token_hash))).all()
        stored = await session.scalar(select(Agent.password_hash).where(Agent.username == "admin"))
    assert admin.token not in hashes and len(hashes) == 1
    assert stored is not None and stored.startswith("$argon2id$")


async def test_admin_password_resets_at_start_and_logs_out(database_url: str) -> None:
    db = Database(database_url)
    await db.upgrade()
    accounts = Accounts(db, session_ttl=timedelta(hours=1))
    try:
        await accounts.ensure_admin("first-password")
        old = await accounts.login("admin", "first-password", kind="bearer")
        await accounts.ensure_admin("first-password")  # unchanged: nothing happens
        assert (await accounts.resolve(old.token)).username == "admin"
        await accounts.ensure_admin("second-password")
        with pytest.raises(InvalidCredentials):
            await accounts.resolve(old.token)
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate("admin", "first-password")
        assert (await accounts.authenticate("admin", "second-password")).is_supervisor
    finally:
        await db.close()



async def test_the_monitor_page_is_for_supervisors_only(database_url: str) -> None:
    async with running_desk(database_url, plain_http=True) as desk_app:
        stranger = await desk_app.http.get("/desk/monitor", follow_redirects=False)
        assert stranger.status_code == 303
        assert stranger.headers["location"] == "/desk/login?next=/desk/monitor"
        await desk_app.module.accounts.create("anna", "anna-password", role="agent")
        for username, password, status in (("anna", "anna-password", 403),
                                           ("admin", ADMIN_PASSWORD, 200)):
            async with httpx.AsyncClient(base_url=desk_app.url) as browser:
                login = await browser.post("/desk/session",
                                           json={"username": username, "password": password})
                assert login.status_code == 200
                page = await browser.get("/desk/monitor", follow_redirects=False)
                assert page.status_code == status, username
                assert "script-src 'self'" in page.headers["content-security-policy"]
                assert ("/desk/assets/monitor.js" in page.text) == (status == 200)
