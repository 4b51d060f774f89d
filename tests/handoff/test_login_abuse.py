"""The desk login under abuse, on the real app over loopback: failures from one address never
lock out a login from another; guesses sent at once are counted before they are checked; only
a few password checks run at once; disabled agents are out; restarts keep the admin's password.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

import handoff.auth
from handoff.tables import Agent as AgentRow
from tests.support.desk import ADMIN_PASSWORD, Desk, client_from, running_desk
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


class CountingHasher(PasswordHasher):
    """Cheap argon2 that counts the checks, the most at once, and can hold them (``hold``)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.lock = threading.Lock()
        self.go = threading.Event()
        self.go.set()
        self.verifies = self.running = self.peak = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.verifies += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            self.go.wait(30)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(handoff.auth, "PasswordHasher", lambda: counting)
    return counting


def credentials(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


async def test_failures_from_one_address_do_not_lock_out_another(database_url: str) -> None:
    async with running_desk(database_url) as desk, client_from(
        desk, "127.0.0.2"
    ) as attacker, client_from(desk, "127.0.0.3") as admin:
        for _ in range(desk.module.settings.desk_login_max_failures):
            wrong = await attacker.post("/api/desk/login", json=credentials("admin", "guess"))
            assert wrong.status_code == 401
        blocked = await attacker.post("/api/desk/login",
                                      json=credentials("admin", ADMIN_PASSWORD))
        assert blocked.status_code == 429, "the guessing address waits, even with the password"
        assert int(blocked.headers["retry-after"]) > 0
        real = await admin.post("/api/desk/login", json=credentials("admin", ADMIN_PASSWORD))
        assert real.status_code == 200, "the real admin elsewhere is not locked out"


async def test_guesses_sent_at_once_are_counted_before_they_are_checked(
    database_url: str, hasher: CountingHasher
) -> None:
    async with running_desk(database_url) as desk:
        before = hasher.verifies
        answers = await asyncio.gather(*[
            desk.http.post("/api/desk/login", json=credentials("admin", f"guess-{i}"))
            for i in range(60)
        ])
        checked = hasher.verifies - before
        limit = desk.module.settings.desk_login_max_failures
        codes = [a.status_code for a in answers]
        assert 1 <= checked <= limit, f"{checked} passwords checked for 60 guesses"
        assert codes.count(401) == checked and codes.count(429) == 60 - checked
        assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status_code == 429)


async def test_only_a_few_password_checks_run_at_once(
    database_url: str, hasher: CountingHasher
) -> None:
    bound = 3  # and 4 x 3 = 12 may wait; the rest are told to come back
    async with running_desk(database_url, desk_login_max_concurrent=bound,
                            desk_login_max_failures=1000) as desk:
        hasher.go.clear()  # every check stalls until the test lets them go
        try:
            tasks = [
                asyncio.create_task(desk.http.post("/api/desk/login",
                                                   json=credentials(f"guess-{i}", "password")))
                for i in range(60)
            ]
            await eventually(lambda: _true(sum(t.done() for t in tasks) >= 60 - bound * 5),
                             timeout=30)
            assert hasher.running == bound
        finally:
            hasher.go.set()
        answers = await asyncio.gather(*tasks)
    codes = [a.status_code for a in answers]
    assert hasher.peak == bound
    assert codes.count(401) == bound * 5 and codes.count(503) == 60 - bound * 5
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)


async def _true(value: bool) -> bool:
    return value


async def abonent(database_url: str, cwd: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    """``abonent agents ...`` in a child process on the same database (the app keeps running)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "agents", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode or 0, out.decode()


async def test_a_disabled_agent_is_logged_out_and_cannot_log_in(
    database_url: str, tmp_path: Path
) -> None:
    async with running_desk(database_url) as desk:
        anna = await desk.create_agent("anna")
        assert (await desk.http.get("/api/desk/me", headers=anna.headers)).status_code == 200

        code, out = await abonent(database_url, tmp_path, "disable", "anna")
        assert code == 0 and "disabled" in out, out
        assert (await desk.http.get("/api/desk/me", headers=anna.headers)).status_code == 401
        refused = await desk.http.post("/api/desk/login",
                                       json=credentials("anna", "anna-password"))
        assert refused.status_code == 401

        code, out = await abonent(database_url, tmp_path, "disable", "nobody")
        assert code == 1 and "no agent 'nobody'" in out, out
        code, out = await abonent(database_url, tmp_path, "list")
        assert any(line.split()[:3] == ["anna", "agent", "disabled"]
                   for line in out.splitlines()), out

        code, out = await abonent(database_url, tmp_path, "enable", "anna")
        assert code == 0 and "enabled" in out, out
        assert (await desk.login("anna", "anna-password")).token


async def admin_hash(desk: Desk) -> tuple[str, bool]:
    async with desk.services.db.sessions() as session:
        row = (await session.execute(
            select(AgentRow.password_hash, AgentRow.active).where(AgentRow.username == "admin")
        )).one()
    return row[0], row[1]


async def test_a_restart_resets_the_admin_password_only_when_it_changed(
    database_url: str,
) -> None:
    from pydantic import SecretStr

    async with running_desk(database_url) as desk:
        first = await desk.admin()
        stored, _ = await admin_hash(desk)
    async with running_desk(database_url) as desk:  # the same ABONENT_ADMIN_PASSWORD
        assert (await admin_hash(desk))[0] == stored, "not rehashed"
        me = await desk.http.get("/api/desk/me", headers=first.headers)
        assert me.status_code == 200, "sessions survive a restart"

    changed: dict[str, Any] = {"admin_password": SecretStr("a-new-admin-password")}
    async with running_desk(database_url, **changed) as desk:
        assert (await admin_hash(desk))[0] != stored
        me = await desk.http.get("/api/desk/me", headers=first.headers)
        assert me.status_code == 401, "a changed password logs the old sessions out"
        await desk.login("admin", "a-new-admin-password")
        async with desk.services.db.transaction() as session:  # as `agents disable` does
            await session.execute(
                update(AgentRow).where(AgentRow.username == "admin").values(active=False)
            )

    async with running_desk(database_url, **changed) as desk:
        assert (await admin_hash(desk))[1] is False, "a restart does not re-enable the admin"
        refused = await desk.http.post("/api/desk/login",
                                       json=credentials("admin", "a-new-admin-password"))
        assert refused.status_code == 401


async def test_behind_a_trusted_proxy_each_forwarded_client_counts_apart(
    database_url: str,
) -> None:
    async with running_desk(database_url, trusted_proxies="127.0.0.1") as desk:
        def login(address: str, password: str) -> Any:
            return desk.http.post("/api/desk/login", json=credentials("admin", password),
                                  headers={"X-Forwarded-For": address})

        for _ in range(desk.module.settings.desk_login_max_failures):
            assert (await login("203.0.113.7", "guess")).status_code == 401
        assert (await login("203.0.113.7", ADMIN_PASSWORD)).status_code == 429
        assert (await login("198.51.100.4", ADMIN_PASSWORD)).status_code == 200
    async with running_desk(database_url) as desk, client_from(desk, "127.0.0.2") as peer:
        # no trusted proxy: a forged header does not get a fresh address
        for i in range(desk.module.settings.desk_login_max_failures):
            wrong = await peer.post("/api/desk/login", json=credentials("admin", "guess"),
                                    headers={"X-Forwarded-For": f"192.0.2.{i}"})
            assert wrong.status_code == 401
        forged = await peer.post("/api/desk/login", json=credentials("admin", "guess"),
                                 headers={"X-Forwarded-For": "192.0.2.99"})
        assert forged.status_code == 429


def cookie_attributes(header: str) -> list[str]:
    return [part.strip().lower() for part in header.split(";")]


async def test_the_desk_cookie_is_secure_unless_on_plain_http(database_url: str) -> None:
    for plain_http in (False, True):
        async with running_desk(database_url, plain_http=plain_http) as desk:
            response = await desk.http.post(
                "/desk/session", json=credentials("admin", ADMIN_PASSWORD)
            )
            assert response.status_code == 200
            attributes = cookie_attributes(response.headers["set-cookie"])
            assert ("secure" in attributes) is not plain_http, attributes
            assert "httponly" in attributes and "samesite=strict" in attributes
            desk.http.cookies.clear()  # httpx keeps it only over plain HTTP; send it by hand
            logout = await desk.http.post(
                "/api/desk/logout",
                headers={"X-Desk-Request": "1",
                         "Cookie": response.headers["set-cookie"].split(";")[0]},
            )
            assert logout.status_code == 204
            cleared = cookie_attributes(logout.headers["set-cookie"])
            assert ("secure" in cleared) is not plain_http, cleared
