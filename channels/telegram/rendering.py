""":class:`OutboundMessage` -> the ``sendMessage`` calls that show it on Telegram.

- Text is escaped for the HTML parse mode and split below Telegram's 4096-character limit at a
  paragraph, line or word boundary (lengths in UTF-16 code units, as Telegram counts them).
- Buttons become an inline keyboard, one button a row, on the last part.
- A "share my phone" request becomes a one-time reply keyboard with a ``request_contact``
  button; a message cannot carry two keyboards, so its other buttons then become plain reply
  buttons that send their title as text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.messages import Button, OutboundMessage
from channels.telegram.payloads import callback_data

MAX_MESSAGE = 4096
PART_LIMIT = 4000  # a margin below MAX_MESSAGE
# The core may name the phone button in the reply's language (metadata "request_phone_label").
DEFAULT_PHONE_LABEL = "📱 Поделиться номером"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass(frozen=True, slots=True)
class Part:
    """One ``sendMessage``: HTML-escaped text and the keyboard, if any."""

    html: str
    reply_markup: Markup | None = None


def render(message: OutboundMessage, *, limit: int = PART_LIMIT) -> list[Part]:
    chunks = split_text(message.text, limit)
    if not chunks:
        raise ValueError("the reply has no text, and Telegram cannot send an empty message")
    markup = keyboard(message)
    parts = [Part(escape(chunk)) for chunk in chunks]
    parts[-1] = Part(parts[-1].html, markup)
    return parts


def escape(text: str) -> str:
    """Telegram's HTML mode needs only ``<``, ``>`` and ``&`` escaped."""
    return html.escape(text, quote=False)


def keyboard(message: OutboundMessage) -> Markup | None:
    if message.request_phone:
        label = str(message.metadata.get("request_phone_label") or DEFAULT_PHONE_LABEL)
        rows = [[KeyboardButton(text=label, request_contact=True)]]
        rows += [[KeyboardButton(text=b.title)] for b in message.buttons]
        return ReplyKeyboardMarkup(keyboard=rows, one_time_keyboard=True, resize_keyboard=True)
    if message.buttons:
        return InlineKeyboardMarkup(inline_keyboard=[[inline_button(b)] for b in message.buttons])
    return None


def inline_button(button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=button.title, callback_data=callback_data(button.payload))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = PART_LIMIT) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units, cut at the last paragraph break, line break or
    space of the window (when that keeps at least half of it), otherwise hard."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        window = rest[: _fitting(rest, limit)]
        cut = _boundary(window)
        parts.append(window[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [part for part in parts if part]


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _boundary(window: str) -> int:
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > 0 and at >= len(window) // 2:
            return at
    return len(window)
