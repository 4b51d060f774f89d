"""The app with the Telegram channel on, as its tests see it: fresh Telegram users, the running
app in polling or webhook mode (aimed at the fake Bot API server), and what it stored."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from bot.app import create_app
from bot.config import Settings
from bot.services import Services
from bot.storage import Conversation, Database, Identity, Message, OutboxItem
from channels.telegram.inbound import TELEGRAM
from channels.telegram.options import WEBHOOK_PATH
from channels.telegram.webhook import SECRET_HEADER
from nlu.server import RasaServer
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import TelegramUser
from tests.support import channel_db
from tests.support.app import app_settings
from tests.support.servers import LiveServer

WEBHOOK_SECRET = "s3cret-Token_for-tests"
_user_ids = itertools.count(700_000_001)


def new_telegram_user(**extra: Any) -> TelegramUser:
    """A Telegram user nobody has used yet in this session."""
    return TelegramUser(next(_user_ids), **extra)


@dataclass
class TelegramApp:
    """The running app with the Telegram channel on, and what a test needs to look inside."""

    api: FakeBotApi
    url: str
    http: httpx.AsyncClient
    services: Services
    settings: Settings

    async def post_update(self, update: dict[str, Any], *, secret: str | None = WEBHOOK_SECRET
                          ) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.http.post(WEBHOOK_PATH, json=update, headers=headers)

    async def identity(self, user: TelegramUser) -> Identity | None:
        return await find_identity(self.services.db, user)

    async def conversation(self, user: TelegramUser) -> Conversation | None:
        return await channel_db.latest_conversation(self.services.db, TELEGRAM, str(user.id))

    async def messages(self, user: TelegramUser, direction: str | None = None) -> list[Message]:
        return await stored_messages(self.services.db, user, direction)

    async def outbox(self, user: TelegramUser) -> list[OutboxItem]:
        return await outbox_rows(self.services.db, user)

    async def delivered(self, user: TelegramUser) -> bool:
        return await delivered(self.services.db, user)


async def find_identity(db: Database, user: TelegramUser) -> Identity | None:
    return await channel_db.find_identity(db, TELEGRAM, str(user.id))


async def stored_messages(
    db: Database, user: TelegramUser, direction: str | None = None
) -> list[Message]:
    return await channel_db.stored_messages(db, TELEGRAM, str(user.id), direction)


async def outbox_rows(db: Database, user: TelegramUser) -> list[OutboxItem]:
    return await channel_db.outbox_rows(db, TELEGRAM, str(user.id))


async def delivered(db: Database, user: TelegramUser) -> bool:
    return await channel_db.delivered(db, TELEGRAM, str(user.id))


@asynccontextmanager
async def running_telegram_app(
    database_url: str, rasa: RasaServer, api: FakeBotApi, *, webhook: bool = False,
    **overrides: object,
) -> AsyncIterator[TelegramApp]:
    telegram: dict[str, object] = {
        "telegram_bot_token": SecretStr(api.token),
        "telegram_api_base": api.url,
    }
    if webhook:
        telegram |= {
            "telegram_webhook_url": "https://bot.example.test/telegram/webhook",
            "telegram_webhook_secret": SecretStr(WEBHOOK_SECRET),
        }
    settings = app_settings(database_url, rasa, **telegram, **overrides)
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield TelegramApp(api, server.url, http, app.state.services, settings)
