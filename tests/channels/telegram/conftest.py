"""Fixtures of the Telegram tests: the fake Bot API server, the real aiogram ``Bot`` aimed at it,
and the whole app (real Rasa, real database) in polling or webhook mode
(tests/support/telegram.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiogram import Bot

from channels.telegram.client import create_bot
from channels.telegram.options import TelegramOptions
from nlu.server import RasaServer
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support.telegram import TelegramApp, running_telegram_app


@pytest.fixture(scope="session")
def fake_bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def api(fake_bot_api: FakeBotApi) -> FakeBotApi:
    """The fake Bot API server, reset for this test."""
    fake_bot_api.reset()
    return fake_bot_api


@pytest.fixture(scope="session")
async def _session_bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Bot]:
    client = create_bot(TelegramOptions(token=fake_bot_api.token, api_base=fake_bot_api.url))
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
def bot(api: FakeBotApi, _session_bot: Bot) -> Bot:
    """The real aiogram Bot, aimed at the fake Bot API server."""
    return _session_bot


@pytest.fixture
async def polling_app(
    database_url: str, rasa_server: RasaServer, api: FakeBotApi
) -> AsyncIterator[TelegramApp]:
    async with running_telegram_app(database_url, rasa_server, api) as app:
        yield app


@pytest.fixture
async def webhook_app(
    database_url: str, rasa_server: RasaServer, api: FakeBotApi
) -> AsyncIterator[TelegramApp]:
    async with running_telegram_app(database_url, rasa_server, api, webhook=True) as app:
        yield app
