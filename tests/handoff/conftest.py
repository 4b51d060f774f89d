"""Fixtures for the handoff: the real app on loopback with the desk (tests/support/desk.py).

``desk_app`` needs no Rasa: its NLU points at a closed port, so a message no keyword
understands, sent twice, escalates with the reason ``nlu_unavailable`` (a quick way to fill the
queue). The Rasa tests use ``running_app`` from tests/conftest.py through ``rasa_desk``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from bot.app import create_app
from tests.support.app import RunningApp
from tests.support.browser import chromium
from tests.support.desk import Desk, desk_settings
from tests.support.servers import LiveServer


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its production cost takes ~0.2 s a hash; tests need many logins."""
    import handoff.auth

    monkeypatch.setattr(
        handoff.auth, "PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
async def desk_app(database_url: str) -> AsyncIterator[Desk]:
    app = create_app(desk_settings(database_url))
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield Desk(server.url, http, app.state.services)


@pytest.fixture
async def desk_sqlite(tmp_path: Path) -> AsyncIterator[Desk]:
    """The desk on its own SQLite file, for the browser tests (one database is enough there)."""
    app = create_app(desk_settings(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"))
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield Desk(server.url, http, app.state.services)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def rasa_desk(running_app: RunningApp) -> AsyncIterator[Desk]:
    """The app with the real Rasa model; agents are created directly (no admin password)."""
    yield Desk(running_app.url, running_app.http, running_app.services)
