"""VK events (API 5.199) as the Bots Long Poll and Callback API deliver them, written like a
conversation::

    ivan = new_vk_user()
    vk.enqueue(ivan.text("какой у меня баланс"))
    vk.enqueue(ivan.button("Тарифы", {"command": "tariffs"}))
    vk.enqueue(ivan.callback_press({"cmd": "support_contacts"}))

From 5.103 on, ``message_new.object`` is ``{"message": {...}, "client_info": {...}}``;
``message_edit`` and ``message_reply`` carry the message itself as ``object``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.channels.vk.vk_wire import API_VERSION, CHAT_PEER_BASE, DEFAULT_GROUP_ID

__all__ = ["CHAT_PEER_ID", "VkUser", "callback_body", "confirmation_body", "new_vk_user"]

CHAT_PEER_ID = CHAT_PEER_BASE + 1
BUTTON_ACTIONS = ["text", "vkpay", "open_app", "location", "open_link", "callback",
                  "intent_subscribe", "intent_unsubscribe"]

_user_ids = itertools.count(500_000_001)
_message_ids = itertools.count(10_001)  # unique across users, as in a community's inbox
_attachment_ids = itertools.count(457_239_017)


def new_vk_user(first_name: str = "Иван", last_name: str = "Петров") -> VkUser:
    """A user no other test has used."""
    return VkUser(next(_user_ids), first_name, last_name)


@dataclass
class VkUser:
    user_id: int
    first_name: str = "Иван"
    last_name: str = "Петров"
    group_id: int = DEFAULT_GROUP_ID
    _conversation_ids: dict[int, itertools.count[int]] = field(default_factory=dict, repr=False)
    _last: dict[str, Any] | None = field(default=None, repr=False)

    def text(self, text: str, *, payload: str | dict[str, Any] | None = None) -> dict[str, Any]:
        """A private message; ``payload`` (a JSON string, or a dict to encode) as a button's."""
        return self._message_new(self._message(text, payload=payload))

    def button(self, label: str, payload: str | dict[str, Any]) -> dict[str, Any]:
        """A press on a text button: VK sends its label as the text, with its payload."""
        return self.text(label, payload=payload)

    def photo(self, text: str = "") -> dict[str, Any]:
        photo = {"album_id": -3, "date": int(time.time()), "id": next(_attachment_ids),
                 "owner_id": self.user_id, "access_key": secrets.token_hex(9),
                 "sizes": [{"height": 75, "width": 75, "type": "s",
                            "url": "https://sun9-1.userapi.com/impg/fake.jpg?size=75x75"}],
                 "text": "", "has_tags": False}
        return self._with_attachment(text, {"type": "photo", "photo": photo})

    def sticker(self) -> dict[str, Any]:
        image = {"url": "https://vk.com/sticker/1-163-64", "width": 64, "height": 64}
        sticker = {"product_id": 5, "sticker_id": 163, "images": [image],
                   "images_with_background": [image], "inner_type": "base_sticker_new"}
        return self._with_attachment("", {"type": "sticker", "sticker": sticker})

    def voice(self) -> dict[str, Any]:
        voice = {"duration": 3, "waveform": [0, 4, 12, 31, 20, 7, 0], "id": next(_attachment_ids),
                 "owner_id": self.user_id, "access_key": secrets.token_hex(9),
                 "link_ogg": "https://psv4.userapi.com/fake.ogg",
                 "link_mp3": "https://psv4.userapi.com/fake.mp3"}
        return self._with_attachment("", {"type": "audio_message", "audio_message": voice})

    def wall(self) -> dict[str, Any]:
        post = {"id": next(_attachment_ids), "from_id": -1, "owner_id": -1, "to_id": -1,
                "date": int(time.time()), "post_type": "post", "text": "Новости оператора",
                "attachments": [], "comments": {"count": 0}, "likes": {"count": 0}}
        return self._with_attachment("", {"type": "wall", "wall": post})

    def in_chat(self, text: str, *, peer_id: int = CHAT_PEER_ID) -> dict[str, Any]:
        """A message in a group chat the community is in: VK gives it id 0 there; the
        conversation_message_id is what identifies it."""
        message = self._message(text, peer_id=peer_id)
        message["id"] = 0
        return self._message_new(message)

    def edit(self, text: str) -> dict[str, Any]:
        """The user edits their last message (a new one if there is none): ``message_edit``,
        whose object is the message itself."""
        message = dict(self._last) if self._last else self._message(text)
        message.update(text=text, update_time=int(time.time()))
        return self._event("message_edit", message)

    def callback_press(self, payload: dict[str, Any], *, conversation_message_id: int = 1
                       ) -> dict[str, Any]:
        """A press on a callback button of the community's message ``conversation_message_id``
        in the private chat: ``message_event``, whose payload is an object, not a string."""
        return self._event("message_event", {
            "user_id": self.user_id, "peer_id": self.user_id,
            "event_id": secrets.token_hex(6), "payload": payload,
            "conversation_message_id": conversation_message_id,
        })

    def _with_attachment(self, text: str, attachment: dict[str, Any]) -> dict[str, Any]:
        message = self._message(text)
        message["attachments"] = [attachment]
        return self._message_new(message)

    def _message(self, text: str, *, peer_id: int | None = None,
                 payload: str | dict[str, Any] | None = None) -> dict[str, Any]:
        peer = self.user_id if peer_id is None else peer_id
        counter = self._conversation_ids.setdefault(peer, itertools.count(1))
        message_id = next(_message_ids)
        message: dict[str, Any] = {
            "date": int(time.time()), "from_id": self.user_id, "id": message_id, "out": 0,
            "version": 10_000_000 + message_id, "attachments": [],
            "conversation_message_id": next(counter), "fwd_messages": [], "important": False,
            "is_hidden": False, "peer_id": peer, "random_id": 0, "text": text,
        }
        if payload is not None:
            message["payload"] = payload if isinstance(payload, str) else json.dumps(
                payload, ensure_ascii=False, separators=(",", ":"))
        self._last = message
        return message

    def _message_new(self, message: dict[str, Any]) -> dict[str, Any]:
        client_info = {"button_actions": list(BUTTON_ACTIONS), "keyboard": True,
                       "inline_keyboard": True, "carousel": True, "lang_id": 0}
        return self._event("message_new", {"message": message, "client_info": client_info})

    def _event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "event_id": secrets.token_hex(20), "v": API_VERSION,
                "object": obj, "group_id": self.group_id}


def callback_body(event: dict[str, Any], *, secret: str, group_id: int | None = None
                  ) -> dict[str, Any]:
    """What VK POSTs to a Callback API server for ``event``: the same event with the secret
    (and ``group_id``, when given, instead of the event's)."""
    body = dict(event)
    if group_id is not None:
        body["group_id"] = group_id
    body["secret"] = secret
    return body


def confirmation_body(group_id: int = DEFAULT_GROUP_ID, *, secret: str | None = None
                      ) -> dict[str, Any]:
    """VK's request to confirm a Callback API server address (it expects the code back)."""
    body: dict[str, Any] = {"type": "confirmation", "group_id": group_id}
    if secret is not None:
        body["secret"] = secret
    return body
