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
from channels.common.text_parts import split_text
from channels.telegram.payloads import callback_data

MAX_MESSAGE = 4096
PART_LIMIT = 4000  # a margin below MAX_MESSAGE (counted in UTF-16 units, as Telegram does)
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
