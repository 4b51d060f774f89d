"""The Telegram settings this channel needs, checked once: token, mode, webhook secret, API base.

Polling is the default; webhook mode is on when ``TELEGRAM_WEBHOOK_URL`` is set, and then
``TELEGRAM_WEBHOOK_SECRET`` is required (Telegram allows 1-256 of ``A-Z a-z 0-9 _ -``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.config import Settings

WEBHOOK_PATH = "/telegram/webhook"
# Only what the bot understands; the others are never requested (see README: edits, groups).
ALLOWED_UPDATES = ("message", "callback_query")

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


class TelegramConfigError(ValueError):
    """The Telegram settings are incomplete or malformed (the message says which variable)."""


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    token: str = field(repr=False)
    api_base: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    @property
    def mode(self) -> Literal["polling", "webhook"]:
        return "webhook" if self.webhook_url else "polling"

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramOptions:
        if settings.telegram_bot_token is None:
            raise TelegramConfigError("TELEGRAM_BOT_TOKEN is not set")
        token = settings.telegram_bot_token.get_secret_value().strip()
        if not _TOKEN.fullmatch(token):
            raise TelegramConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (digits:letters, from BotFather)"
            )
        webhook_url = (settings.telegram_webhook_url or "").strip() or None
        secret = settings.telegram_webhook_secret
        webhook_secret = secret.get_secret_value().strip() if secret is not None else None
        if webhook_url and not webhook_secret:
            raise TelegramConfigError(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not: webhook mode "
                "needs a secret so that only Telegram can post updates"
            )
        if webhook_secret and not _SECRET.fullmatch(webhook_secret):
            raise TelegramConfigError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        api_base = (settings.telegram_api_base or "").strip().rstrip("/") or None
        return cls(token=token, api_base=api_base, webhook_url=webhook_url,
                   webhook_secret=webhook_secret)
