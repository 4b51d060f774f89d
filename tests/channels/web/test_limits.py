"""Abuse limits of the anonymous web chat: messages per minute per client address and per
user (429 with Retry-After, nothing stored), and X-Forwarded-For believed only from a trusted
proxy. The NLU points at a closed port: the limits do not need Rasa."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.client_address import resolve
from bot.ratelimit import MemoryStore
from bot.services import Services
from bot.storage import Message
from channels.web.limits import WebChatLimits
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port
from tests.support.webchat import WebChatClient

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class App:
    url: str
    services: Services

    def client(self, address: str) -> WebChatClient:
        """A client whose connections come from ``address`` (any 127.x.y.z reaches loopback);
        it keeps each user's session token."""
        return WebChatClient(httpx.AsyncClient(
            base_url=self.url, timeout=30,
            transport=httpx.AsyncHTTPTransport(local_address=address),
        ))

    async def stored(self) -> int:
        async with self.services.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


@asynccontextmanager
async def chat_app(database_url: str, **overrides: Any) -> AsyncIterator[App]:
    settings = base_settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0,
        nlu_timeout=1.0, **overrides,
    )
    app = create_app(settings)
    async with LiveServer(app) as server:
        yield App(server.url, app.state.services)


async def send(chat: WebChatClient, user: str, **headers: str) -> httpx.Response:
    # a button payload: answered without the NLU, so each message costs little
    return await chat.post({"user_id": user, "payload": "/greet"}, headers=headers)


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert "too many messages" in response.json()["error"]
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60


@SQLITE
async def test_per_user_and_per_address_limits(database_url: str) -> None:
    async with chat_app(database_url, webchat_rate_per_user=3, webchat_rate_per_ip=5) as app, \
            app.client("127.0.0.2") as first, app.client("127.0.0.3") as second:
        for _ in range(3):
            assert (await send(first, "anna")).status_code == 200
        before = await app.stored()
        assert_limited(await send(first, "anna"))  # the 4th message of one user
        assert await app.stored() == before, "a refused message is not stored"

        # the same address, other users: two more fit in its 5 a minute, then it is refused
        assert (await send(first, "boris")).status_code == 200
        assert (await send(first, "vera")).status_code == 200
        before = await app.stored()
        assert_limited(await send(first, "gleb"))
        assert await app.stored() == before

        # another address is not affected
        assert (await send(second, "dasha")).status_code == 200


@SQLITE
async def test_zero_turns_the_limits_off(database_url: str) -> None:
    async with chat_app(database_url, webchat_rate_per_user=0, webchat_rate_per_ip=0) as app, \
            app.client("127.0.0.2") as http:
        for _ in range(25):
            assert (await send(http, "anna")).status_code == 200


@SQLITE
async def test_forwarded_for_is_ignored_from_an_untrusted_peer(database_url: str) -> None:
    async with chat_app(database_url, webchat_rate_per_ip=2, webchat_rate_per_user=0,
                        trusted_proxies="127.0.0.5") as app, app.client("127.0.0.4") as http:
        # each request claims another client address: the peer is what counts
        assert (await send(http, "a", **{"X-Forwarded-For": "10.0.0.1"})).status_code == 200
        assert (await send(http, "b", **{"X-Forwarded-For": "10.0.0.2"})).status_code == 200
        assert_limited(await send(http, "c", **{"X-Forwarded-For": "10.0.0.3"}))


@SQLITE
async def test_forwarded_for_is_honoured_from_a_trusted_proxy(database_url: str) -> None:
    async with chat_app(database_url, webchat_rate_per_ip=2, webchat_rate_per_user=0,
                        trusted_proxies="127.0.0.5, 10.9.0.0/16") as app, \
            app.client("127.0.0.5") as proxy:
        client = {"X-Forwarded-For": "10.0.0.1"}
        assert (await send(proxy, "a", **client)).status_code == 200
        # a left-most entry is the client's own claim, and a trusted hop is skipped
        assert (await send(proxy, "b", **{"X-Forwarded-For": "1.2.3.4, 10.0.0.1, 10.9.0.7"})
                ).status_code == 200
        assert_limited(await send(proxy, "c", **client))
        # other clients behind the same proxy are not affected
        assert (await send(proxy, "d", **{"X-Forwarded-For": "10.0.0.2"})).status_code == 200


TRUSTED = (ip_network("10.9.0.0/16"), ip_network("127.0.0.1/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["10.0.0.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a trusted proxy without the header
        ("127.0.0.1", ["198.51.100.2"], "198.51.100.2"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.2, 10.9.1.1"], "198.51.100.2"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.2"], "198.51.100.2"),  # two header lines
        ("127.0.0.1", ["10.9.0.1, 10.9.0.2"], "10.9.0.1"),  # proxies all the way
        ("127.0.0.1", ["garbage, 198.51.100.2"], "198.51.100.2"),
        ("127.0.0.1", ["198.51.100.2, not-an-ip"], "127.0.0.1"),
        ("::ffff:198.51.100.3", [], "198.51.100.3"),
        (None, ["1.2.3.4"], "unknown"),
    ],
)
def test_client_address_rules(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert resolve(peer, forwarded, TRUSTED) == expected


async def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    clock: Callable[[], float] = lambda: now[0]
    # 6 a minute: one every 10 s after the burst
    limits = WebChatLimits(per_address=0, per_user=6, store=MemoryStore(clock=clock))
    for _ in range(6):
        assert await limits.admit("a", "k") == 0
    assert await limits.admit("a", "k") == 10
    now[0] = 5.0
    assert await limits.admit("a", "k") == 5
    now[0] = 10.0
    assert await limits.admit("a", "k") == 0
    assert await limits.admit("a", "other") == 0
