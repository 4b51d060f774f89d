"""Telegram updates as the Bot API sends them, written like a conversation::

    anna = TelegramUser(5001, "Anna")
    api.enqueue(anna.text("какой у меня баланс"))
    api.enqueue(anna.press("/support_contacts"))
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

_callback_ids = itertools.count(1)


@dataclass
class TelegramUser:
    id: int
    first_name: str = "Anna"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "ru"
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}

    def message(self, **content: Any) -> dict[str, Any]:
        """A new message in the private chat: ``{"message": {...}}`` with the given content."""
        return {"message": self._message(**content)}

    def text(self, text: str) -> dict[str, Any]:
        entities = [{"type": "bot_command", "offset": 0,
                     "length": len(text.split()[0])}] if text.startswith("/") else None
        return self.message(text=text, **({"entities": entities} if entities else {}))

    def photo(self, caption: str | None = None) -> dict[str, Any]:
        sizes = [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQAD", "width": 90,
                  "height": 90, "file_size": 1200}]
        return self.message(photo=sizes, **({"caption": caption} if caption else {}))

    def voice(self) -> dict[str, Any]:
        return self.message(voice={"file_id": "AwACAgIAAxk", "file_unique_id": "AgAD",
                                   "duration": 3, "mime_type": "audio/ogg"})

    def sticker(self) -> dict[str, Any]:
        return self.message(sticker={"file_id": "CAACAgIAAxk", "file_unique_id": "AgADA",
                                     "type": "regular", "width": 512, "height": 512,
                                     "is_animated": False, "is_video": False})

    def contact(self, phone: str, *, owner: int | None) -> dict[str, Any]:
        """A contact card: the user's own (``owner`` = their id) or someone else's."""
        card: dict[str, Any] = {"phone_number": phone, "first_name": self.first_name}
        if owner is not None:
            card["user_id"] = owner
        return self.message(contact=card)

    def press(self, data: str, *, on_message: int = 1, title: str = "button") -> dict[str, Any]:
        """A press on an inline button of the bot's message ``on_message``."""
        message = {
            "message_id": on_message,
            "date": int(time.time()),
            "chat": self.chat(),
            "from": {"id": 123456789, "is_bot": True, "first_name": "Abonent"},
            "text": "...",
            "reply_markup": {"inline_keyboard": [[{"text": title, "callback_data": data}]]},
        }
        return {"callback_query": {
            "id": f"cbq-{self.id}-{next(_callback_ids)}",
            "from": self.user(),
            "chat_instance": f"ci-{self.id}",
            "message": message,
            "data": data,
        }}

    def edited(self, message_id: int, text: str) -> dict[str, Any]:
        message = self._message(text=text)
        message["message_id"] = message_id
        message["edit_date"] = int(time.time())
        return {"edited_message": message}

    def in_group(self, text: str, *, group_id: int = -100123) -> dict[str, Any]:
        message = self._message(text=text)
        message["chat"] = {"id": group_id, "type": "supergroup", "title": "Operators fans"}
        return {"message": message}

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(),
            "from": self.user(),
            **content,
        }
