"""Fixtures for the handoff: the real app on loopback with the desk, a subscriber on the web
chat and agents who log in through the API.

``desk_app`` needs no Rasa: its NLU points at a closed port, so a message no keyword
understands, sent twice, escalates with the reason ``nlu_unavailable`` (a quick way to fill the
queue). The Rasa tests use ``running_app`` from tests/conftest.py through ``rasa_desk``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from bot.app import create_app
from bot.services import Services
from handoff import HandoffExtension
from tests.conftest import RunningApp, base_settings
from tests.support.servers import LiveServer, free_port

ADMIN_PASSWORD = "admin-test-password"
T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, every: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        await asyncio.sleep(every)


def new_user() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def module_of(services: Services) -> HandoffExtension:
    return next(e for e in services.extensions if isinstance(e, HandoffExtension))


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its production cost takes ~0.2 s a hash; tests need many logins."""
    import handoff.auth

    monkeypatch.setattr(
        handoff.auth, "PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@dataclass
class Agent:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Desk:
    """The app as the desk tests see it: a subscriber on the web chat and agents on the API."""

    url: str
    http: httpx.AsyncClient
    services: Services

    @property
    def module(self) -> HandoffExtension:
        return module_of(self.services)

    async def say(self, user_id: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"user_id": user_id, **extra}
        if text is not None:
            body["text"] = text
        response = await self.http.post("/api/webchat/messages", json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def updates(self, user_id: str, after: str | int, wait: float = 0) -> dict[str, Any]:
        response = await self.http.get(
            "/api/webchat/updates", params={"user_id": user_id, "after": after, "wait": wait}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def create_agent(self, username: str, *, role: str = "agent") -> Agent:
        password = f"{username}-password"
        await self.module.accounts.create(username, password, role=role,
                                          display_name=username.title())
        return await self.login(username, password)

    async def login(self, username: str, password: str) -> Agent:
        response = await self.http.post(
            "/api/desk/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return Agent(username, response.json()["token"])

    async def admin(self) -> Agent:
        return await self.login("admin", ADMIN_PASSWORD)

    async def queue(self, agent: Agent) -> dict[str, Any]:
        response = await self.http.get("/api/desk/queue", headers=agent.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def post(self, agent: Agent, conversation_id: str, action: str,
                   body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(
            f"/api/desk/conversations/{conversation_id}/{action}", json=body,
            headers=agent.headers,
        )

    async def stats(self, agent: Agent) -> dict[str, Any]:
        response = await self.http.get("/api/desk/stats", headers=agent.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def desk_settings(database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": database_url,
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "nlu_retries": 0,
        "nlu_timeout": 1.0,
        "admin_password": SecretStr(ADMIN_PASSWORD),
    }
    values.update(overrides)
    return base_settings(**values)


@pytest.fixture
async def desk_app(database_url: str) -> AsyncIterator[Desk]:
    app = create_app(desk_settings(database_url))
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield Desk(server.url, http, app.state.services)


@pytest.fixture
async def rasa_desk(running_app: RunningApp) -> AsyncIterator[Desk]:
    """The app with the real Rasa model; agents are created directly (no admin password)."""
    yield Desk(running_app.url, running_app.http, running_app.services)


@asynccontextmanager
async def running_desk(database_url: str, **overrides: Any) -> AsyncIterator[Desk]:
    """The desk app on ``database_url`` with settings overrides; start it again on the same
    database to see what survives a restart."""
    app = create_app(desk_settings(database_url, **overrides))
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        await module_of(app.state.services).ready()
        yield Desk(server.url, http, app.state.services)


def client_from(desk: Desk, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address`` (any 127.x.y.z works on
    Linux loopback), so the app sees several different client addresses."""
    return httpx.AsyncClient(
        base_url=desk.url, timeout=30,
        transport=httpx.AsyncHTTPTransport(local_address=address),
    )
