"""The normalised message types: the only things that cross the channel boundary.

A channel adapter turns whatever its platform delivers into an :class:`InboundMessage` and
renders an :class:`OutboundMessage` as well as the platform allows (buttons fall back to a
numbered list, a phone request to a sentence). Platform extras ride in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# InboundMessage.metadata keys the core and the handoff understand (stored with the message):
# the network address an anonymous client wrote from (the web chat sets it), so that one address
# cannot flood the agents' queue; never shown to agents.
CLIENT_ADDRESS = "client_address"
# A channel whose conversations come in threads (e-mail) names the thread: messages of one
# identity with the same thread key share a conversation, and a new thread opens a new one.
# Without it, an identity has one conversation at a time (chats).
THREAD = "thread"
# A message to keep but never answer (an e-mail auto-reply or bounce: answering could start a
# mail loop). Its value says why; it is stored as already answered and shown to agents.
NO_REPLY = "no_reply"
# OutboundMessage.metadata key the outbox sender sets on the message it hands to a channel: the
# outbox row's id, the same on every retry, for platforms that take an idempotency key (VK's
# ``random_id``). Not stored; absent when a channel is called outside the outbox.
DELIVERY_ID = "delivery_id"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply: ``title`` is shown, ``payload`` comes back when it is pressed."""

    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A phone number the subscriber shared; ``verified`` only when the platform proves it is theirs."""

    phone: str
    verified: bool


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One thing a subscriber sent, on any channel.

    ``channel_message_id`` makes delivery idempotent: the same id from the same sender (channel + channel_user_id) is
    stored and answered once. ``address`` is where replies go (a chat id, an e-mail address).
    ``attachments`` names non-text content ("photo", "voice", ...) the bot cannot read.
    """

    channel: str
    channel_user_id: str
    channel_message_id: str
    text: str = ""
    payload: str | None = None
    address: str | None = None
    lang: str | None = None
    contact: SharedContact | None = None
    attachments: tuple[str, ...] = ()
    display_name: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def reply_address(self) -> str:
        return self.address or self.channel_user_id


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One reply: text plus optional buttons and an optional "share my phone" request."""

    text: str
    buttons: tuple[Button, ...] = ()
    request_phone: bool = False
    sender: str = "bot"
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [b.to_dict() for b in self.buttons],
            "request_phone": self.request_phone,
            "sender": self.sender,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboundMessage:
        return cls(
            text=str(data.get("text", "")),
            buttons=tuple(
                Button(title=str(b["title"]), payload=str(b["payload"]))
                for b in data.get("buttons") or ()
            ),
            request_phone=bool(data.get("request_phone", False)),
            sender=str(data.get("sender", "bot")),
            metadata=MappingProxyType(dict(data.get("metadata") or {})),
        )

    def as_plain_text(self) -> str:
        """Text with the buttons as a numbered list: the fallback for channels without buttons."""
        if not self.buttons:
            return self.text
        lines = [self.text, ""]
        lines += [f"{i}. {b.title}" for i, b in enumerate(self.buttons, start=1)]
        return "\n".join(lines)
