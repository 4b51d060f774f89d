"""Button payloads <-> Telegram ``callback_data`` (1-64 bytes; longer ones go hashed)."""

from __future__ import annotations

from bot.storage import Database
from channels.common.button_payloads import PayloadResolver, compact, is_hashed
from channels.telegram.inbound import TELEGRAM

__all__ = ["MAX_CALLBACK_DATA", "callback_data", "is_hashed", "telegram_payloads"]

MAX_CALLBACK_DATA = 64


def callback_data(payload: str) -> str:
    return compact(payload, MAX_CALLBACK_DATA)


def telegram_payloads(db: Database) -> PayloadResolver:
    return PayloadResolver(db, channel=TELEGRAM)
