"""Button payloads <-> what a platform carries back when a button is pressed, within its limit
(Telegram's ``callback_data``: 64 bytes; VK's ``payload``: 255 bytes of JSON).

A payload that fits goes as it is. A longer one (``/roaming{"country": "Великобритания"}`` is
already 48 bytes), or one that starts with ``#``, goes as ``#`` + 22 characters of its SHA-256.
A press on such a button is resolved against the buttons of the recent replies to that
subscriber, which the core keeps in the database: nothing to remember in memory, so it works
after a restart and on any replica.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib

from sqlalchemy import select

from bot.messages import InboundMessage
from bot.storage import Conversation, Database, Identity, Message

_HASHED = "#"


def compact(payload: str, max_bytes: int) -> str:
    """``payload`` itself when it fits in ``max_bytes`` (UTF-8), else its 23-character hash."""
    if payload and not payload.startswith(_HASHED) and len(payload.encode()) <= max_bytes:
        return payload
    return hashed(payload)


def hashed(payload: str) -> str:
    """``#`` + 22 characters of the payload's SHA-256: what a press on a long payload carries."""
    digest = hashlib.sha256(payload.encode()).digest()[:16]
    return _HASHED + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def is_hashed(data: str) -> bool:
    return data.startswith(_HASHED)


class PayloadResolver:
    """Finds the payload behind hashed data among one channel's subscriber's recent replies."""

    def __init__(self, db: Database, *, channel: str, lookback: int = 50) -> None:
        self._db = db
        self._channel = channel
        self._lookback = lookback

    async def resolve(self, data: str, channel_user_id: str) -> str | None:
        if not is_hashed(data):
            return data
        async with self._db.sessions() as session:
            rows = (
                await session.scalars(
                    select(Message.buttons)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .join(Identity, Identity.id == Conversation.identity_id)
                    .where(
                        Identity.channel == self._channel,
                        Identity.channel_user_id == channel_user_id,
                        Message.direction == "out",
                        Message.buttons.is_not(None),
                    )
                    .order_by(Message.id.desc())
                    .limit(self._lookback)
                )
            ).all()
        for buttons in rows:
            for item in (buttons or {}).get("items") or ():
                payload = str(item.get("payload", ""))
                if hashed(payload) == data:
                    return payload
        return None

    async def resolve_pressed(self, inbound: InboundMessage) -> InboundMessage:
        """The message with a hashed payload replaced by the payload it stands for; when that
        reply is no longer among the recent ones, the button's title (metadata
        ``button_text``) is read as text instead."""
        if inbound.payload is None or not is_hashed(inbound.payload):
            return inbound
        payload = await self.resolve(inbound.payload, inbound.channel_user_id)
        if payload is not None:
            return dataclasses.replace(inbound, payload=payload)
        title = str(inbound.metadata.get("button_text") or "")
        return dataclasses.replace(inbound, payload=None, text=title)
