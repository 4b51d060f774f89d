"""The VK channel as the app sees it (``bot.extensions.ChannelExtension``), built from settings.

Long Poll mode adds the long-poll loop; Callback mode adds the ``/vk/callback`` route. Both add
the worker that answers stored messages, check the community at start, and stop vk-api's
threads when the app stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import requests
import vk_api
from fastapi import APIRouter

from bot.config import Settings
from bot.conversations import Conversations
from bot.cursors import Cursors
from bot.extensions import BackgroundLoop
from bot.storage import Database
from channels.common.button_payloads import PayloadResolver
from channels.common.worker import ConversationWorker
from channels.vk.callback import callback_router
from channels.vk.channel import VkChannel
from channels.vk.client import VkClient
from channels.vk.errors import describe
from channels.vk.inbound import VK
from channels.vk.intake import VkIntake
from channels.vk.long_poll import LongPoller
from channels.vk.names import UserNames
from channels.vk.options import VkOptions

log = logging.getLogger(__name__)


@dataclass
class VkExtension:
    options: VkOptions
    client: VkClient
    channel: VkChannel
    intake: VkIntake
    worker: ConversationWorker
    poller: LongPoller | None = None  # Long Poll mode
    callback: APIRouter | None = None  # Callback mode

    def routers(self) -> list[APIRouter]:
        return [self.callback] if self.callback is not None else []

    def background(self) -> list[BackgroundLoop]:
        loops: list[BackgroundLoop] = [self.worker.run, self.lifecycle]
        if self.poller is not None:
            loops.append(self.poller.run)
        return loops

    def pollers(self) -> list[BackgroundLoop]:
        """The loops of ``background()`` that pull events: one process runs them (bot/leader.py);
        Callback mode has none."""
        return [self.poller.run] if self.poller is not None else []

    async def lifecycle(self, stop: asyncio.Event) -> None:
        """Names the community at start (a wrong token or id shows at once); stops vk-api's
        threads at the end."""
        log.info("vk: %s mode", self.options.mode.replace("_", " "))
        try:
            await self._check_community()
            await stop.wait()
        finally:
            if self.poller is not None:
                await self.poller.close()
            self.client.close()

    async def _check_community(self) -> None:
        try:
            found = await self.client.call("groups.getById", group_id=self.options.group_id)
        except (vk_api.VkApiError, requests.RequestException, ValueError) as exc:  # not fatal
            log.warning("vk: could not read community %s (check VK_GROUP_TOKEN and VK_GROUP_ID):"
                        " %s", self.options.group_id, describe(exc, self.options.secrets))
            return
        groups = found.get("groups", []) if isinstance(found, dict) else found
        if groups and isinstance(groups[0], dict):
            log.info("vk: community %r (id %s)", groups[0].get("name"), groups[0].get("id"))


def build_vk(*, settings: Settings, conversations: Conversations, db: Database) -> VkExtension:
    options = VkOptions.from_settings(settings)
    client = VkClient(token=options.token, api_version=options.api_version,
                      api_base=options.api_base)
    worker = ConversationWorker(conversations)
    intake = VkIntake(
        group_id=options.group_id,
        conversations=conversations,
        payloads=PayloadResolver(db, channel=VK),
        names=UserNames(client, secrets=options.secrets),
        worker=worker,
    )
    extension = VkExtension(
        options=options, client=client, channel=VkChannel(client, secrets=options.secrets),
        intake=intake, worker=worker,
    )
    if options.mode == "callback":
        assert options.callback_confirmation is not None and options.callback_secret is not None
        extension.callback = callback_router(
            intake=intake, group_id=options.group_id,
            confirmation=options.callback_confirmation, secret=options.callback_secret,
        )
    else:
        extension.poller = LongPoller(client, intake, Cursors(db), group_id=options.group_id,
                                      secrets=options.secrets)
    return extension
