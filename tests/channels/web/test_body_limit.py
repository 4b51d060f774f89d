"""ABONENT_MAX_BODY_BYTES: a body over the limit gets 413 before the app reads it, whether it
announces its size (Content-Length) or streams in chunks; the app keeps serving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.services import Services
from bot.storage import Message
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port

TOTAL = 50 * 1024 * 1024
CHUNK = 64 * 1024
HEAD, TAIL = b'{"user_id": "big", "text": "', b'"}'


@dataclass
class App:
    url: str
    http: httpx.AsyncClient
    services: Services


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    settings = base_settings(
        database_url=database_url, rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0,
        nlu_timeout=1.0,
    )
    application = create_app(settings)
    async with LiveServer(application) as server, httpx.AsyncClient(
        base_url=server.url, timeout=60
    ) as http:
        yield App(server.url, http, application.state.services)


class Upload:
    """50 MB of a JSON-looking body, produced as the socket takes it (never held whole)."""

    def __init__(self) -> None:
        self.sent = 0

    def chunks(self) -> Iterator[bytes]:
        yield HEAD
        while self.sent < TOTAL:
            self.sent += CHUNK
            yield b"x" * CHUNK
        yield TAIL


async def stored(services: Services) -> int:
    async with services.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def post(app: App, upload: Upload, headers: dict[str, str]) -> httpx.Response:
    """A blocking client in a thread: the server answers 413 and closes while the upload is
    still going; a blocking socket then reads the answer the kernel already holds (as browsers
    do), whereas asyncio's transport drops it when the write fails."""

    def send() -> httpx.Response:
        with httpx.Client(base_url=app.url, timeout=60) as client:
            return client.post("/api/webchat/messages", content=upload.chunks(),
                               headers={"Content-Type": "application/json", **headers})

    return await asyncio.to_thread(send)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_declared_50_mb_body_is_refused_unread(app: App) -> None:
    upload = Upload()
    response = await post(app, upload, {"Content-Length": str(len(HEAD) + TOTAL + len(TAIL))})
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["error"]
    # the server closed the connection instead of draining it: most of it was never sent
    assert upload.sent < TOTAL // 2, upload.sent
    assert await stored(app.services) == 0
    assert (await app.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_chunked_50_mb_body_is_cut_off(app: App) -> None:
    upload = Upload()  # no Content-Length: httpx streams it with chunked transfer encoding
    response = await post(app, upload, {})
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert upload.sent < TOTAL // 2, upload.sent
    assert await stored(app.services) == 0
    assert (await app.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_body_under_the_limit_is_served(app: App) -> None:
    body = {"user_id": "small", "text": "баланс", "padding": "x" * 60_000}  # ignored field
    response = await app.http.post("/api/webchat/messages", json=body)
    assert response.status_code == 200, response.text
