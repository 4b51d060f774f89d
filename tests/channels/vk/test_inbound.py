"""VK events (API 5.199) -> InboundMessage: what the bot reads, what it ignores on purpose, and
that no shape VK (or anyone posting as VK) could send makes the mapping raise."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.messages import InboundMessage
from channels.common.button_payloads import hashed
from channels.vk import to_inbound

GROUP = 229000001
USER = 500000123
CHAT = 2_000_000_007
_ids = itertools.count(7001)

CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link",
                                  "callback", "intent_subscribe", "intent_unsubscribe"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}


def message(text: str = "", *, user: int = USER, peer: int | None = None,
            **fields: Any) -> dict[str, Any]:
    """A message as VK 5.199 writes it in ``message_new.object.message``."""
    body: dict[str, Any] = {
        "date": 1718000000, "from_id": user, "id": next(_ids), "out": 0, "version": 10000001,
        "attachments": [], "conversation_message_id": 3, "fwd_messages": [],
        "important": False, "is_hidden": False, "peer_id": user if peer is None else peer,
        "random_id": 0, "text": text,
    }
    body.update(fields)
    return body


def event(body: Any, *, kind: str = "message_new", client_info: Any = CLIENT_INFO
          ) -> dict[str, Any]:
    obj = {"message": body, "client_info": client_info} if kind == "message_new" else body
    return {"type": kind, "object": obj, "group_id": GROUP, "event_id": "e" * 40, "v": "5.199"}


def read(body: Any, **kwargs: Any) -> InboundMessage:
    inbound = to_inbound(event(body, **kwargs), group_id=GROUP)
    assert inbound is not None
    return inbound


def ignored(raw: Any) -> bool:
    return to_inbound(raw, group_id=GROUP) is None


def attachment(kind: str) -> dict[str, Any]:
    return {"type": kind, kind: {"id": 457239017, "owner_id": USER, "access_key": "k"}}


# -- what the bot reads ----------------------------------------------------------------------

def test_a_private_text_message() -> None:
    raw = message("какой у меня баланс")
    inbound = read(raw)
    assert inbound.channel == "vk"
    assert inbound.channel_user_id == str(USER) and inbound.address == str(USER)
    assert inbound.channel_message_id == f"{GROUP}:{raw['id']}"
    assert inbound.text == "какой у меня баланс"
    assert inbound.payload is None and inbound.contact is None and inbound.attachments == ()
    assert inbound.display_name is None, "names come from users.get, not from the event"
    assert inbound.lang is None, "the app's UI language does not decide the reply language"
    assert dict(inbound.metadata) == {"vk_message_id": raw["id"], "vk_date": 1718000000,
                                      "vk_inline_keyboard": True, "vk_lang_id": 0}


def test_the_same_message_delivered_again_has_the_same_delivery_id() -> None:
    raw = message("привет")
    assert read(raw).channel_message_id == read(dict(raw)).channel_message_id
    other = to_inbound(event(raw), group_id=GROUP + 1)
    assert other is not None
    assert other.channel_message_id != read(raw).channel_message_id, "ids are per community"


def test_a_client_without_inline_keyboards_is_noted() -> None:
    inbound = read(message("привет"), client_info={**CLIENT_INFO, "inline_keyboard": False})
    assert inbound.metadata["vk_inline_keyboard"] is False
    assert "vk_inline_keyboard" not in read(message("привет"), client_info=None).metadata


def test_a_text_button_press_carries_our_payload() -> None:
    inbound = read(message("Проверить баланс", payload='{"p":"/check_balance"}'))
    assert inbound.payload == "/check_balance" and inbound.text == ""
    assert inbound.metadata["button_text"] == "Проверить баланс"


def test_a_rasa_payload_with_entities_comes_back_whole() -> None:
    payload = '/roaming{"country": "Польша"}'
    raw = json.dumps({"p": payload}, ensure_ascii=False)
    assert read(message("Роуминг", payload=raw)).payload == payload


def test_a_hashed_payload_is_passed_on_for_the_intake_to_resolve() -> None:
    token = hashed('/roaming{"country": "Соединённые Штаты Америки"}' * 5)
    inbound = read(message("Роуминг", payload=json.dumps({"p": token})))
    assert inbound.payload == token and inbound.metadata["button_text"] == "Роуминг"


def test_vks_start_button_is_the_start_command() -> None:
    inbound = read(message("Начать", payload='{"command":"start"}'))
    assert inbound.text == "/start" and inbound.payload is None


@pytest.mark.parametrize(("kind", "expected"), [
    ("photo", "photo"), ("sticker", "sticker"), ("audio_message", "audio_message"),
    ("wall", "wall"), ("doc", "doc"), ("video", "video"),
    ("brand_new_kind", "attachment"),
])
def test_content_the_bot_cannot_read_is_kept_as_an_attachment(kind: str, expected: str
                                                              ) -> None:
    inbound = read(message("", attachments=[attachment(kind)]))
    assert inbound.attachments == (expected,) and inbound.text == ""


def test_a_photo_caption_is_read_as_text() -> None:
    inbound = read(message("что с балансом?", attachments=[attachment("photo")]))
    assert inbound.text == "что с балансом?" and inbound.attachments == ("photo",)


def test_several_attachments_are_named_once_each() -> None:
    raw = message("", attachments=[attachment("photo"), attachment("photo"),
                                   attachment("sticker"), attachment("x1"), attachment("x2")])
    assert read(raw).attachments == ("photo", "sticker", "attachment")


def test_forwarded_messages_and_a_location() -> None:
    forwarded = read(message("", fwd_messages=[{"from_id": 42, "text": "чужое", "date": 1}]))
    assert forwarded.attachments == ("forwarded",) and forwarded.text == ""
    commented = read(message("вот это", fwd_messages=[{"from_id": 42, "text": "x", "date": 1}]))
    assert commented.text == "вот это" and commented.attachments == ("forwarded",)
    located = read(message("", geo={"type": "point",
                                    "coordinates": {"latitude": 53.9, "longitude": 27.56}}))
    assert located.attachments == ("location",)


def test_a_reply_with_text_is_read_as_the_text() -> None:
    quoted = {"from_id": -GROUP, "text": "Ваш баланс 12 BYN", "date": 1, "id": 5}
    assert read(message("спасибо", reply_message=quoted)).attachments == ()
    assert read(message("", reply_message=quoted)).attachments == ("forwarded",)


def test_string_ids_are_read_as_numbers() -> None:
    inbound = read(message("привет", id="77", from_id=str(USER), peer_id=str(USER)))
    assert inbound.channel_message_id == f"{GROUP}:77"
    assert inbound.channel_user_id == str(USER) and inbound.address == str(USER)


@pytest.mark.parametrize("payload", ["not json", "{", '["p", "/check_balance"]', '"/x"', "5",
                                     "null", '{"p": 5}', '{"p": ""}', '{"button": "1"}', ""])
def test_a_payload_that_is_not_ours_leaves_the_label_as_text(payload: str) -> None:
    inbound = read(message("Тарифы", payload=payload))
    assert inbound.text == "Тарифы" and inbound.payload is None
    assert "button_text" not in inbound.metadata


# -- ignored on purpose ----------------------------------------------------------------------

def test_group_chats_are_ignored() -> None:
    assert ignored(event(message("какой у меня баланс", peer=CHAT, id=0)))
    assert ignored(event(message("какой у меня баланс", peer=CHAT, id=15)))
    assert ignored(event(message("Баланс", peer=CHAT, id=16, payload='{"p":"/check_balance"}')))


def test_the_communitys_own_and_other_communities_messages_are_ignored() -> None:
    assert ignored(event(message("Ваш баланс 12 BYN", user=-GROUP, peer=USER, out=1)))
    assert ignored(event(message("Ваш баланс", user=USER, out=1)))
    assert ignored(event(message("реклама", user=-42, peer=-42)))
    assert ignored(event(message("чужое", user=USER + 1, peer=USER)))


@pytest.mark.parametrize("kind", ["message_edit", "message_reply", "message_event",
                                  "message_allow", "message_deny", "message_typing_state",
                                  "group_join", "wall_post_new", "confirmation", ""])
def test_other_event_types_are_ignored(kind: str) -> None:
    body = message("исправленный текст")
    if kind == "message_event":
        body = {"user_id": USER, "peer_id": USER, "event_id": "abc",
                "payload": {"p": "/check_balance"}, "conversation_message_id": 1}
    assert ignored(event(body, kind=kind))


def test_an_empty_message_is_ignored() -> None:
    assert ignored(event(message("")))
    assert ignored(event(message("", attachments=[{"no_type": 1}], fwd_messages=[])))


@pytest.mark.parametrize("raw", [
    {},
    {"type": "message_new"},
    {"type": "message_new", "object": None},
    {"type": "message_new", "object": "message"},
    {"type": "message_new", "object": []},
    {"type": "message_new", "object": {"client_info": CLIENT_INFO}},
    {"type": "message_new", "object": {"message": ["text"]}},
    {"type": "message_new", "object": {"message": "привет"}},
    {"type": "message_new", "object": {"message": None}},
    {"type": ["message_new"], "object": {"message": {}}},
])
def test_malformed_events_are_ignored(raw: dict[str, Any]) -> None:
    assert ignored(raw)


@pytest.mark.parametrize("fields", [
    {"id": True}, {"from_id": True, "peer_id": True}, {"id": None}, {"id": 0}, {"id": -5},
    {"id": 1.5}, {"id": "x"}, {"id": "-"}, {"peer_id": None}, {"from_id": "abc"},
    {"peer_id": [USER]}, {"from_id": {"id": USER}},
])
def test_messages_with_unreadable_ids_are_ignored(fields: dict[str, Any]) -> None:
    assert ignored(event(message("привет", **fields)))


# -- malformed shapes that once made the mapping raise ---------------------------------------

@pytest.mark.parametrize("attachments", [1, True, 3.5])
def test_attachments_that_are_not_a_list_are_read_safely(attachments: object) -> None:
    assert read(message("привет", attachments=attachments)).text == "привет"


@pytest.mark.parametrize("value", ["--5", "²", "¹²³", pytest.param("9" * 5000, id="5000-nines")])
def test_odd_digit_strings_as_ids_are_ignored(value: str) -> None:
    assert ignored(event(message("привет", id=value)))


# -- no shape makes the mapping raise --------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
    st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12,
)
MESSAGE_KEYS = ["id", "peer_id", "from_id", "out", "text", "payload", "attachments",
                "fwd_messages", "reply_message", "geo", "date"]
attachment_items = st.lists(
    st.fixed_dictionaries({"type": json_values}) | json_values, max_size=4) | st.none()
digit_strings = st.from_regex(r"-?[0-9]{1,18}", fullmatch=True)
readable_ids = st.integers() | digit_strings | st.none() | st.booleans() | st.text(max_size=5)
payloads = st.none() | st.text(max_size=40) | json_values.map(json.dumps) | \
    st.builds(lambda p: json.dumps({"p": p}), json_values) | st.just('{"command":"start"}')


def assert_read_or_ignored(raw: Any) -> None:
    result = to_inbound(raw, group_id=GROUP)
    assert result is None or isinstance(result, InboundMessage)
    if result is not None:  # what was read is consistent, whatever the shape
        assert result.channel_message_id.startswith(f"{GROUP}:")
        assert int(result.channel_user_id) > 0 and result.address == result.channel_user_id
        assert result.text or result.payload or result.attachments
        assert result.payload is None or isinstance(result.payload, str)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "object", "group_id", "event_id"]) |
                       st.text(max_size=8), json_values, max_size=5),
       st.sampled_from(["message_new", "message_edit", "message_event"]) | json_values)
def test_random_json_never_makes_the_mapping_raise(raw: dict[str, Any], kind: Any) -> None:
    assert_read_or_ignored(raw)
    assert_read_or_ignored({**raw, "type": kind})
    assert_read_or_ignored({**raw, "type": "message_new", "object": {"message": raw}})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({
    "id": readable_ids, "peer_id": readable_ids | st.just(USER) | st.just(CHAT),
    "from_id": readable_ids | st.just(USER), "out": json_values, "text": json_values,
    "payload": payloads, "attachments": attachment_items, "fwd_messages": json_values,
    "reply_message": json_values, "geo": json_values, "date": json_values,
}), json_values, json_values)
def test_random_fields_in_a_private_message_never_make_the_mapping_raise(
        fields: dict[str, Any], client_info: Any, obj_extra: Any) -> None:
    """A valid private message with random values in its fields (ids as VK could write them;
    `attachments` a list; the test below throws any JSON at every field)."""
    base = message("привет")
    for drop in range(len(MESSAGE_KEYS) + 1):  # each field overridden, and each left out
        body = {**base, **fields}
        if drop < len(MESSAGE_KEYS):
            body.pop(MESSAGE_KEYS[drop], None)
        assert_read_or_ignored(event(body, client_info=client_info))
    assert_read_or_ignored({"type": "message_new", "object": obj_extra})


@settings(max_examples=300, deadline=None)
@example(fields={"attachments": 1})
@example(fields={"id": "--5"})
@given(st.dictionaries(st.sampled_from(MESSAGE_KEYS), json_values, max_size=6))
def test_any_json_in_a_private_messages_fields_never_makes_the_mapping_raise(
        fields: dict[str, Any]) -> None:
    assert_read_or_ignored(event({**message("привет"), **fields}))
