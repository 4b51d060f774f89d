"""The Telegram channel as the app sees it (``bot.extensions.ChannelExtension``), built from settings.

Polling mode adds the polling loop; webhook mode adds the ``/telegram/webhook`` route. Both add
the worker that answers stored updates, and close the bot's HTTP session when the app stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from fastapi import APIRouter

from bot.config import Settings
from bot.conversations import Conversations
from bot.extensions import BackgroundLoop
from bot.storage import Database
from channels.common.worker import ConversationWorker
from channels.telegram.channel import TelegramChannel
from channels.telegram.client import create_bot
from channels.telegram.errors import channel_error
from channels.telegram.intake import TelegramIntake
from channels.telegram.options import TelegramOptions
from channels.telegram.payloads import telegram_payloads
from channels.telegram.polling import Poller
from channels.telegram.webhook import webhook_router

log = logging.getLogger(__name__)


@dataclass
class TelegramExtension:
    options: TelegramOptions
    bot: Bot
    channel: TelegramChannel
    intake: TelegramIntake
    worker: ConversationWorker
    poller: Poller | None = None  # polling mode
    webhook: APIRouter | None = None  # webhook mode

    def routers(self) -> list[APIRouter]:
        return [self.webhook] if self.webhook is not None else []

    def background(self) -> list[BackgroundLoop]:
        loops: list[BackgroundLoop] = [self.worker.run, self.lifecycle]
        if self.poller is not None:
            loops.append(self.poller.run)
        return loops

    def pollers(self) -> list[BackgroundLoop]:
        """The loops of ``background()`` that pull updates: one process runs them (bot/leader.py);
        webhook mode has none."""
        return [self.poller.run] if self.poller is not None else []

    async def lifecycle(self, stop: asyncio.Event) -> None:
        """Checks the webhook at start (webhook mode); closes the HTTP session at the end."""
        log.info("telegram: %s mode", self.options.mode)
        try:
            if self.options.mode == "webhook":
                await self._check_webhook()
            await stop.wait()
        finally:
            await self.bot.session.close()

    async def _check_webhook(self) -> None:
        """Say so when Telegram posts elsewhere: a forgotten ``set-webhook`` is silent."""
        try:
            info = await self.bot.get_webhook_info()
        except (TelegramAPIError, ClientDecodeError) as exc:
            log.warning("telegram: could not read the webhook settings: %s",
                        channel_error(exc, secret=self.options.token))
            return
        if info.url != self.options.webhook_url:
            log.warning("telegram: webhook mode, but Telegram posts updates to %r, not "
                        "TELEGRAM_WEBHOOK_URL: run `abonent telegram set-webhook`",
                        info.url or "(nowhere: no webhook set)")


def build_telegram(
    *, settings: Settings, conversations: Conversations, db: Database
) -> TelegramExtension:
    options = TelegramOptions.from_settings(settings)
    bot = create_bot(options)
    worker = ConversationWorker(conversations)
    intake = TelegramIntake(
        bot=bot, conversations=conversations, payloads=telegram_payloads(db), worker=worker
    )
    extension = TelegramExtension(
        options=options, bot=bot, channel=TelegramChannel(bot), intake=intake, worker=worker
    )
    if options.mode == "webhook":
        assert options.webhook_secret is not None  # checked by TelegramOptions
        extension.webhook = webhook_router(bot=bot, intake=intake, secret=options.webhook_secret)
    else:
        extension.poller = Poller(bot, intake)
    return extension
