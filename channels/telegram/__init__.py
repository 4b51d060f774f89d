"""The Telegram channel (aiogram 3): long polling or a webhook in, the outbox sender out.

``build_telegram`` is what the composition root (``bot/services.py``) calls when
``TELEGRAM_BOT_TOKEN`` is set. aiogram stays inside this package: updates become
:class:`bot.messages.InboundMessage` here, and replies are rendered here.

Names are loaded on first use: importing aiogram takes seconds, and ``abonent`` imports this
package for its ``telegram`` sub-commands even when Telegram is off.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.telegram.channel import TelegramChannel
    from channels.telegram.extension import TelegramExtension, build_telegram
    from channels.telegram.inbound import TELEGRAM, to_inbound
    from channels.telegram.options import TelegramConfigError, TelegramOptions

__all__ = [
    "TELEGRAM",
    "TelegramChannel",
    "TelegramConfigError",
    "TelegramExtension",
    "TelegramOptions",
    "build_telegram",
    "to_inbound",
]

_WHERE = {
    "TELEGRAM": "inbound",
    "TelegramChannel": "channel",
    "TelegramConfigError": "options",
    "TelegramOptions": "options",
    "TelegramExtension": "extension",
    "build_telegram": "extension",
    "to_inbound": "inbound",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"channels.telegram.{_WHERE[name]}"), name)
