"""VK event -> :class:`InboundMessage`. Pure: no I/O, so every rule is easy to test.

What the bot reads (everything else returns None: acknowledged, not stored, not answered):

- ``message_new`` in a **private dialog** with the community (``peer_id`` below 2000000000,
  written by a person: ``from_id`` > 0): text, a text-button press (its ``payload``), the
  "Start" button, and content it cannot read (photo, voice, sticker, wall post, forwarded
  messages...), kept as ``attachments``.

Not read, on purpose: group chats (support conversations carry personal data; Telegram groups
are ignored for the same reason), ``message_edit`` (the original was answered), ``message_reply``
(our own sends), ``message_event`` (callback buttons: the bot sends text buttons only) and the
rest of VK's event types.

The delivery id is ``"<community id>:<message id>"``: VK gives a community's messages ids of
their own, stable when an event is delivered again (Callback retries, a long poll replayed from
an earlier ``ts`` after a crash).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.messages import InboundMessage

VK = "vk"
CHAT_PEER_START = 2_000_000_000  # peer ids of group chats start here
PAYLOAD_KEY = "p"
_DECIMAL = re.compile(r"-?[0-9]{1,19}")  # our buttons carry {"p": "<payload>"}; see rendering.button_payload

# Attachment types a person sends that the bot cannot read: answered with "I can read text",
# kept in the transcript for an agent.
UNREADABLE_CONTENT = frozenset({
    "photo", "video", "audio", "audio_message", "doc", "link", "market", "market_album",
    "wall", "wall_reply", "sticker", "gift", "graffiti", "poll", "story", "call", "article",
    "podcast", "event", "narrative", "curator", "textlive", "money_transfer", "money_request",
    "album", "pretty_cards", "group_call_in_progress",
})


def to_inbound(event: Mapping[str, Any], *, group_id: int) -> InboundMessage | None:
    """The message this event carries for the bot, or None when the bot ignores it."""
    if event.get("type") != "message_new":
        return None
    body = event.get("object")
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, Mapping):
        return None
    peer_id, from_id = _int(message.get("peer_id")), _int(message.get("from_id"))
    if peer_id is None or from_id is None or message.get("out") == 1:
        return None
    if from_id <= 0 or peer_id >= CHAT_PEER_START or peer_id != from_id:
        return None  # a community's own or another community's message, or a group chat
    message_id = _int(message.get("id"))
    if message_id is None or message_id <= 0:
        return None
    raw_text = message.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    payload, start = _payload(message.get("payload"))
    kinds = _attachments(message)
    if start:
        text = "/start"
    if not text and payload is None and not kinds:
        return None
    metadata: dict[str, Any] = {
        "vk_message_id": message_id,
        "vk_date": _int(message.get("date")),  # when it was written (to the second)
    }
    if payload is not None:
        metadata["button_text"] = text
    client = body.get("client_info") if isinstance(body, Mapping) else None
    if isinstance(client, Mapping):
        metadata["vk_inline_keyboard"] = bool(client.get("inline_keyboard"))
        if isinstance(client.get("lang_id"), int):
            metadata["vk_lang_id"] = client["lang_id"]  # the app's UI language, not the text's
    return InboundMessage(
        channel=VK,
        channel_user_id=str(from_id),
        channel_message_id=f"{group_id}:{message_id}",
        text=text if payload is None else "",
        payload=payload,
        address=str(peer_id),
        attachments=kinds,
        metadata=metadata,
    )


def _payload(raw: object) -> tuple[str | None, bool]:
    """(our button payload or None, whether it is VK's "Start" button)."""
    if not isinstance(raw, str) or not raw:
        return None, False
    try:
        data = json.loads(raw)
    except ValueError:
        return None, False
    if not isinstance(data, dict):
        return None, False
    if data.get("command") == "start":
        return None, True
    value = data.get(PAYLOAD_KEY)
    return (value, False) if isinstance(value, str) and value else (None, False)


def _attachments(message: Mapping[str, Any]) -> tuple[str, ...]:
    kinds: list[str] = []
    items = message.get("attachments")
    for item in items if isinstance(items, list) else ():
        kind = item.get("type") if isinstance(item, Mapping) else None
        if isinstance(kind, str) and kind not in kinds:
            kinds.append(kind if kind in UNREADABLE_CONTENT else "attachment")
    if message.get("geo"):
        kinds.append("location")
    if message.get("fwd_messages") or message.get("reply_message") and not message.get("text"):
        kinds.append("forwarded")
    return tuple(dict.fromkeys(kinds))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return int(value)
    return None
