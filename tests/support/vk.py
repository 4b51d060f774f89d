"""The app with the VK channel on, as its tests see it: the running app in Long Poll or Callback
mode (aimed at the fake VK API server), and what it stored for a VK user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from bot.app import create_app
from bot.config import Settings
from bot.services import Services
from bot.storage import Conversation, Message, OutboxItem
from channels.vk.inbound import VK
from channels.vk.options import CALLBACK_PATH
from nlu.server import RasaServer
from tests.channels.vk.events import VkUser, callback_body
from tests.channels.vk.fake_vk_api import FakeVkApi
from tests.support import channel_db
from tests.support.app import app_settings
from tests.support.servers import LiveServer

CALLBACK_CONFIRMATION = "a1b2c3d4"
CALLBACK_SECRET = "s3cretKeyForTests"


@dataclass
class VkApp:
    """The running app with the VK channel on, and what a test needs to look inside."""

    api: FakeVkApi
    url: str
    http: httpx.AsyncClient
    services: Services
    settings: Settings

    async def post_event(self, event: dict[str, Any], *, secret: str | None = CALLBACK_SECRET,
                         retry: int | None = None) -> httpx.Response:
        """Post an event to the Callback API route as VK does (the secret inside the body)."""
        body = callback_body(event, secret=secret, group_id=self.api.group_id) \
            if secret is not None else {**event, "group_id": self.api.group_id}
        headers = {"X-Retry-Counter": str(retry)} if retry is not None else {}
        return await self.http.post(CALLBACK_PATH, json=body, headers=headers)

    async def conversation(self, user: VkUser) -> Conversation | None:
        return await channel_db.latest_conversation(self.services.db, VK, str(user.user_id))

    async def messages(self, user: VkUser, direction: str | None = None) -> list[Message]:
        return await channel_db.stored_messages(self.services.db, VK, str(user.user_id),
                                                direction)

    async def outbox(self, user: VkUser) -> list[OutboxItem]:
        return await channel_db.outbox_rows(self.services.db, VK, str(user.user_id))

    async def delivered(self, user: VkUser) -> bool:
        return await channel_db.delivered(self.services.db, VK, str(user.user_id))


def vk_settings(api: FakeVkApi, *, callback: bool = False) -> dict[str, object]:
    settings: dict[str, object] = {
        "vk_group_token": SecretStr(api.token),
        "vk_group_id": str(api.group_id),
        "vk_api_base": api.url,
    }
    if callback:
        settings |= {
            "vk_callback_confirmation": SecretStr(CALLBACK_CONFIRMATION),
            "vk_callback_secret": SecretStr(CALLBACK_SECRET),
        }
    return settings


def vk_env(api: FakeVkApi) -> dict[str, str]:
    """The same settings as environment variables, for the app as a process."""
    return {"VK_GROUP_TOKEN": api.token, "VK_GROUP_ID": str(api.group_id),
            "VK_API_BASE": api.url}


@asynccontextmanager
async def running_vk_app(
    database_url: str, rasa: RasaServer, api: FakeVkApi, *, callback: bool = False,
    **overrides: object,
) -> AsyncIterator[VkApp]:
    settings = app_settings(database_url, rasa, **vk_settings(api, callback=callback),
                            **overrides)
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        if not callback:
            # Up means polling: a new bot's first long poll starts at VK's "now", so an event
            # sent before it is not the bot's. On PostgreSQL the poller starts once this
            # process has won the leader lock, which can take a retry (seconds) when the
            # previous test's app has just let go of it.
            await api.wait_for(lambda: api.held_polls, timeout=30, what="the first long poll")
        yield VkApp(api, server.url, http, app.state.services, settings)
