"""Security headers: every page gets a Content-Security-Policy with frame-ancestors 'none',
nosniff and a Referrer-Policy; the web chat page runs no inline code; the CDN-loaded API docs
pages are off (the schema stays at /openapi.json)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import create_app
from tests.support.app import base_settings
from tests.support.servers import LiveServer, free_port

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = base_settings(database_url=database_url,
                             rasa_url=f"http://127.0.0.1:{free_port()}", nlu_retries=0)
    async with LiveServer(create_app(settings)) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as client:
        yield client


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


def assert_hardened(response: httpx.Response) -> dict[str, str]:
    directives = csp(response)
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    return directives


async def test_the_chat_page_runs_only_its_own_files(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    directives = assert_hardened(page)
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    # no inline script or style: every <script> has a src, there is no <style> block
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == []
    assert "<style" not in page.text and " on" + "click=" not in page.text
    for src in re.findall(r'(?:src|href)="(/webchat/assets/[^"]+)"', page.text):
        asset = await http.get(src)
        assert asset.status_code == 200, src
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert (await http.get("/webchat/assets/../api.py")).status_code == 404


async def test_api_answers_and_errors_carry_the_headers(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/webchat/messages", json={"user_id": "u", "payload": "/greet"})
    assert answer.status_code == 200
    assert assert_hardened(answer)["default-src"] == "default-src 'none'"

    def too_big() -> httpx.Response:  # blocking client: see test_body_limit.post
        with httpx.Client(base_url=str(http.base_url), timeout=30) as client:
            return client.post("/api/webchat/messages", content=b"x" * 70_000,
                               headers={"Content-Type": "application/json"})

    refused = await asyncio.to_thread(too_big)
    assert refused.status_code == 413
    assert_hardened(refused)


async def test_docs_pages_are_off_and_the_schema_stays(http: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert_hardened(response)
    schema = await http.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/webchat/messages" in schema.json()["paths"]
    assert_hardened(schema)


async def test_the_desk_pages_are_hardened(http: httpx.AsyncClient) -> None:
    login = await http.get("/desk/login")
    assert login.status_code == 200
    assert assert_hardened(login)["script-src"] == "script-src 'self'"
