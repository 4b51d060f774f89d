""":class:`OutboundMessage` -> the ``messages.send`` calls that show it on VK.

- Text goes as it is (VK shows plain text), split below VK's 4096-character limit at a
  paragraph, line or word boundary.
- Buttons become an inline keyboard of text buttons on the last part, built with vk-api's
  ``VkKeyboard`` and kept within VK's rules, which ``VkKeyboard`` does not check: a label of at
  most 40 characters, a payload that is a JSON string of at most 255 bytes (ours is
  ``{"p": "<payload>"}``; a longer payload goes hashed and is looked up when pressed), at most
  6 rows and 10 buttons. A press comes back as a message whose text is the label.
- VK bots cannot ask for a phone number with a button: ``request_phone`` is not shown (the
  subscriber proves a number another way).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from vk_api.keyboard import VkKeyboard, VkKeyboardColor

from bot.messages import Button, OutboundMessage
from channels.common.button_payloads import hashed
from channels.common.text_parts import split_text
from channels.vk.inbound import PAYLOAD_KEY

MAX_MESSAGE = 4096
PART_LIMIT = 4000  # a margin below MAX_MESSAGE
MAX_LABEL = 40
MAX_PAYLOAD_BYTES = 255
MAX_ROWS = 6  # inline keyboards
MAX_BUTTONS = 10
MAX_PER_ROW = 5


@dataclass(frozen=True, slots=True)
class Part:
    """One ``messages.send``: the text and the keyboard (a JSON string), if any."""

    text: str
    keyboard: str | None = None


def render(message: OutboundMessage, *, limit: int = PART_LIMIT) -> list[Part]:
    chunks = split_text(message.text, limit)
    if not chunks:
        raise ValueError("the reply has no text, and VK cannot send an empty message")
    parts = [Part(chunk) for chunk in chunks]
    markup = keyboard(message.buttons)
    if markup is not None:
        parts[-1] = Part(parts[-1].text, markup)
    return parts


def keyboard(buttons: tuple[Button, ...]) -> str | None:
    """The inline keyboard as VK takes it (a JSON string), or None without buttons."""
    shown = buttons[:MAX_BUTTONS]
    if not shown:
        return None
    per_row = 1 if len(shown) <= MAX_ROWS else 2  # 7-10 buttons: two a row, still <= 6 rows
    board = VkKeyboard(inline=True)
    for index, button in enumerate(shown):
        if index and index % per_row == 0:
            board.add_line()
        board.add_button(label(button.title), color=VkKeyboardColor.SECONDARY,
                         payload=button_payload(button.payload))
    return str(board.get_keyboard())


def label(title: str) -> str:
    text = " ".join(title.split()) or "…"
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "…"


def button_payload(payload: str) -> str:
    """``{"p": payload}`` as a JSON string; the payload hashed when that would exceed 255 bytes
    (or when it starts with ``#``, which marks a hashed one)."""
    data = json.dumps({PAYLOAD_KEY: payload}, ensure_ascii=False, separators=(",", ":"))
    if payload.startswith("#") or len(data.encode()) > MAX_PAYLOAD_BYTES:
        data = json.dumps({PAYLOAD_KEY: hashed(payload)}, separators=(",", ":"))
    return data


def random_id(delivery_id: object, part: int, text: str = "") -> int:
    """VK's idempotency key for one part of one outbox row: the same on every retry, so VK
    delivers a retried send once. The part's text is mixed in: row ids start again in a
    restored or new database, and another reply under a reused id must not be dropped as a
    duplicate. A positive signed 32-bit number (0 would switch it off)."""
    digest = hashlib.sha256(f"abonent:{delivery_id}:{part}:{text}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF or 1
