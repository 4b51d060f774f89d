"""Telegram update -> :class:`InboundMessage`. Pure: no I/O, so every rule is easy to test.

What the bot reads (everything else returns None: acknowledged, not stored, not answered):

- messages in **private chats** from people (not bots): text, commands, a shared contact, and
  user content it cannot read (photo, voice, sticker, document...), kept as ``attachments``;
- **button presses** (callback queries with data) on the bot's own messages in private chats.

Not read, on purpose: edited messages (the original was answered already; the subscriber can
write again), group and channel messages (support conversations carry personal data), service
messages (pinned, joined...), inline queries and the rest.

The delivery id (``channel_message_id``) is ``"<chat id>:<message id>"`` for messages and
``"callback:<query id>"`` for button presses: stable when Telegram delivers the same update again
and, unlike ``update_id``, never reused (Telegram restarts update ids at random after a week
without updates).
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message, Update, User

from bot.messages import InboundMessage, SharedContact
from bot.phones import normalise_phone as to_e164

TELEGRAM = "telegram"

# Content a person sends that the bot cannot read: answered with "I can read text", kept in the
# transcript for an agent. Other content types are service messages and are ignored.
UNREADABLE_CONTENT = frozenset({
    "animation", "audio", "checklist", "dice", "document", "game", "live_photo", "location",
    "paid_media", "photo", "poll", "sticker", "story", "venue", "video", "video_note", "voice",
})


def to_inbound(update: Update) -> InboundMessage | None:
    """The message this update carries for the bot, or None when the bot ignores it."""
    if update.message is not None:
        return _from_message(update.update_id, update.message)
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    return None


def _from_message(update_id: int, message: Message) -> InboundMessage | None:
    user = message.from_user
    if message.chat.type != "private" or user is None or user.is_bot:
        return None
    kind = message.content_type
    if kind not in ("text", "contact") and kind not in UNREADABLE_CONTENT:
        return None
    metadata = _user_metadata(user) | {
        "update_id": update_id,
        "chat_type": message.chat.type,
        "telegram_message_id": message.message_id,
        "telegram_date": int(message.date.timestamp()),  # when it was written (to the second)
    }
    if message.forward_origin is not None:
        metadata["forwarded"] = True
    text = message.text or message.caption or ""
    command, _, argument = text.partition(" ")
    if command == "/start" and argument.strip():  # a deep link: t.me/<bot>?start=<argument>
        text, metadata["start_param"] = command, argument.strip()
    contact = None
    if message.contact is not None:
        owner = message.contact.user_id
        phone = normalise_phone(message.contact.phone_number)
        contact = SharedContact(
            phone=phone or "",
            # the user's own contact, and a number that can receive SMS (the core keeps E.164)
            verified=owner is not None and owner == user.id and phone is not None,
        )
    return InboundMessage(
        channel=TELEGRAM,
        channel_user_id=str(user.id),
        channel_message_id=f"{message.chat.id}:{message.message_id}",
        text=text,
        address=str(message.chat.id),
        contact=contact,
        attachments=(kind,) if kind in UNREADABLE_CONTENT else (),
        display_name=user.full_name or None,
        metadata=metadata,
    )


def _from_callback(update_id: int, query: CallbackQuery) -> InboundMessage | None:
    user = query.from_user
    if query.data is None or user.is_bot:  # a game button, or nothing to read
        return None
    message = query.message
    if message is not None and message.chat.type != "private":
        return None
    metadata = _user_metadata(user) | {
        "update_id": update_id,
        "chat_type": "private",
        "callback_query_id": query.id,
    }
    if message is not None:
        metadata["telegram_message_id"] = message.message_id
        title = button_title(message, query.data)
        if title is not None:
            metadata["button_text"] = title
    return InboundMessage(
        channel=TELEGRAM,
        channel_user_id=str(user.id),
        channel_message_id=f"callback:{query.id}",
        payload=query.data,
        address=str(message.chat.id) if message is not None else str(user.id),
        display_name=user.full_name or None,
        metadata=metadata,
    )


def button_title(message: Any, data: str) -> str | None:
    """The title of the inline button with this callback data, if the message still shows it."""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None


def normalise_phone(phone: str) -> str | None:
    """Telegram sends ``375291234567`` or ``+375 29 123-45-67`` (always international); the
    core keeps ``+375291234567``. None for anything that is not a valid mobile number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return to_e164(f"+{digits}") if digits else None


def _user_metadata(user: User) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if user.username:
        extra["username"] = user.username
    if user.language_code:  # the app's UI language, not the language the subscriber writes in
        extra["language_code"] = user.language_code
    return extra
