"""The aiogram ``Bot``: the real Bot API, or another server when ``TELEGRAM_API_BASE`` is set."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from channels.telegram.options import TelegramOptions

REQUEST_TIMEOUT = 30.0  # seconds for one API call (getUpdates adds its long-poll timeout)


def create_bot(options: TelegramOptions) -> Bot:
    """``api_base`` is a self-hosted Bot API server or a test server (``http://127.0.0.1:PORT``)."""
    if options.api_base:
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(options.api_base), timeout=REQUEST_TIMEOUT
        )
    else:
        session = AiohttpSession(timeout=REQUEST_TIMEOUT)
    return Bot(options.token, session=session)
