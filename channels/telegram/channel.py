"""``TelegramChannel.send``: one reply to one chat, through the real aiogram ``Bot``.

Retries, back-off and rate limits are the outbox sender's (``bot/outbox.py``); this class only
renders, sends and translates errors. A reply longer than one Telegram message goes as several
parts; when a later part fails and the sender retries, the parts that already went out are not
sent again (remembered in memory until the reply is complete).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from aiogram import Bot
from aiogram.enums import ParseMode

from bot.channel import PermanentChannelError, TemporaryChannelError
from bot.messages import OutboundMessage
from channels.telegram.errors import channel_error
from channels.telegram.inbound import TELEGRAM
from channels.telegram.rendering import Part, render

_REMEMBERED = 1000


class TelegramChannel:
    name = TELEGRAM
    per_address_interval = 1.0  # Telegram: about one message a second per chat
    global_rate = 30.0  # and about 30 a second per bot

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._parts_sent: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def send(self, address: str, message: OutboundMessage) -> None:
        try:
            chat_id = int(address)
        except ValueError:
            raise PermanentChannelError(f"not a Telegram chat id: {address!r}") from None
        try:
            parts = render(message)
        except ValueError as exc:
            raise PermanentChannelError(str(exc)) from exc
        key = (address, _digest(parts))
        done = self._parts_sent.pop(key, 0)
        for index in range(done, len(parts)):
            try:
                await self._send_part(chat_id, parts[index])
            except Exception as exc:
                error = channel_error(exc, secret=self._bot.token)
                if error is None:
                    raise
                if isinstance(error, TemporaryChannelError) and index > 0:
                    self._remember(key, index)
                raise error from exc

    async def _send_part(self, chat_id: int, part: Part) -> None:
        await self._bot.send_message(
            chat_id=chat_id, text=part.html, parse_mode=ParseMode.HTML,
            reply_markup=part.reply_markup,
        )

    def _remember(self, key: tuple[str, str], sent: int) -> None:
        self._parts_sent[key] = sent
        while len(self._parts_sent) > _REMEMBERED:
            self._parts_sent.popitem(last=False)


def _digest(parts: list[Part]) -> str:
    body = "\x00".join(part.html for part in parts)
    return hashlib.sha256(body.encode()).hexdigest()
