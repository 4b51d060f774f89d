"""The agent desk as its tests see it: the app on loopback with the desk, a subscriber on the
web chat and agents who log in through the API.

``desk_settings`` aims NLU at a closed port, so a message no keyword understands, sent twice,
escalates with the reason ``nlu_unavailable`` (a quick way to fill the queue).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from bot.app import create_app
from bot.services import Services
from handoff import HandoffExtension
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port
from tests.support.webchat import WebChatClient

ADMIN_PASSWORD = "admin-test-password"


def module_of(services: Services) -> HandoffExtension:
    return next(e for e in services.extensions if isinstance(e, HandoffExtension))


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
    # the subscriber's side: keeps each user_id's web chat session token
    webchat: WebChatClient = field(init=False)

    def __post_init__(self) -> None:
        self.webchat = WebChatClient(self.http)

    @property
    def module(self) -> HandoffExtension:
        return module_of(self.services)

    async def say(self, user_id: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        return await self.webchat.say(user_id, text, **extra)

    async def updates(self, user_id: str, after: str | int, wait: float = 0) -> dict[str, Any]:
        return await self.webchat.updates(user_id, after, wait)

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
