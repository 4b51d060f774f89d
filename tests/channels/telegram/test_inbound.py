"""Telegram updates -> InboundMessage: what the bot reads, and what it ignores on purpose."""

from __future__ import annotations

from typing import Any

from aiogram.types import Update

from bot.messages import SharedContact
from channels.telegram import to_inbound
from channels.telegram.inbound import normalise_phone
from tests.channels.telegram.updates import TelegramUser

anna = TelegramUser(5001, "Anna", "Ivanova", username="anna_i", language_code="be")


def update(data: dict[str, Any], update_id: int = 77) -> Update:
    return Update.model_validate({"update_id": update_id, **data})


def test_a_text_message_in_a_private_chat() -> None:
    raw = anna.text("какой у меня баланс")
    inbound = to_inbound(update(raw))
    assert inbound is not None
    assert inbound.channel == "telegram"
    assert inbound.channel_user_id == "5001"
    assert inbound.address == "5001"
    assert inbound.channel_message_id == f"5001:{raw['message']['message_id']}"
    assert inbound.text == "какой у меня баланс"
    assert inbound.payload is None and inbound.contact is None and inbound.attachments == ()
    assert inbound.display_name == "Anna Ivanova"
    assert inbound.lang is None, "the app's UI language does not decide the reply language"
    assert dict(inbound.metadata) == {
        "update_id": 77, "chat_type": "private",
        "telegram_message_id": raw["message"]["message_id"],
        "telegram_date": raw["message"]["date"],
        "username": "anna_i", "language_code": "be",
    }


def test_the_same_message_delivered_again_has_the_same_delivery_id() -> None:
    raw = anna.text("привет")
    first, again = to_inbound(update(raw, 10)), to_inbound(update(raw, 10))
    assert first is not None and again is not None
    assert first.channel_message_id == again.channel_message_id


def test_commands_pass_as_text_and_a_deep_link_keeps_its_parameter() -> None:
    operator = to_inbound(update(anna.text("/operator")))
    deep_link = to_inbound(update(anna.text("/start promo-42")))
    assert operator is not None and operator.text == "/operator"
    assert deep_link is not None and deep_link.text == "/start"
    assert deep_link.metadata["start_param"] == "promo-42"


def test_a_button_press() -> None:
    raw = anna.press("/support_contacts", on_message=12, title="Номера поддержки")
    inbound = to_inbound(update(raw, 78))
    assert inbound is not None
    assert inbound.payload == "/support_contacts" and inbound.text == ""
    assert inbound.channel_message_id == f"callback:{raw['callback_query']['id']}"
    assert inbound.address == "5001"
    assert inbound.metadata["callback_query_id"] == raw["callback_query"]["id"]
    assert inbound.metadata["telegram_message_id"] == 12
    assert inbound.metadata["button_text"] == "Номера поддержки"


def test_a_contact_is_verified_only_when_it_is_the_senders_own() -> None:
    own = to_inbound(update(anna.contact("375291234567", owner=anna.id)))
    someone_else = to_inbound(update(anna.contact("+375 29 765-43-21", owner=6002)))
    no_owner = to_inbound(update(anna.contact("375291112233", owner=None)))
    assert own is not None and own.contact == SharedContact("+375291234567", verified=True)
    assert someone_else is not None
    assert someone_else.contact == SharedContact("+375297654321", verified=False)
    assert no_owner is not None and no_owner.contact is not None
    assert no_owner.contact.verified is False


def test_content_the_bot_cannot_read_is_kept_as_an_attachment() -> None:
    for raw, kind in ((anna.photo(), "photo"), (anna.voice(), "voice"),
                      (anna.sticker(), "sticker")):
        inbound = to_inbound(update(raw))
        assert inbound is not None
        assert inbound.attachments == (kind,) and inbound.text == ""


def test_a_photo_caption_is_read_as_text() -> None:
    inbound = to_inbound(update(anna.photo(caption="что с балансом?")))
    assert inbound is not None
    assert inbound.text == "что с балансом?" and inbound.attachments == ("photo",)


def test_ignored_on_purpose() -> None:
    robot = TelegramUser(5002, "Robot")
    from_bot = robot.text("hello")
    from_bot["message"]["from"]["is_bot"] = True
    pinned = anna.message(pinned_message={"message_id": 1, "date": 0, "chat": anna.chat()})
    ignored = {
        "an edit": anna.edited(3, "исправленный текст"),
        "a group message": anna.in_group("какой у меня баланс"),
        "a message from a bot": from_bot,
        "a service message": pinned,
        "an unknown update type": {"brand_new_update_kind": {"x": 1}},
        "a channel post": {"channel_post": {"message_id": 1, "date": 0,
                                            "chat": {"id": -1001, "type": "channel"},
                                            "text": "news"}},
    }
    for what, raw in ignored.items():
        assert to_inbound(update(raw)) is None, what


def test_a_button_press_in_a_group_is_ignored() -> None:
    raw = anna.press("/check_balance")
    raw["callback_query"]["message"]["chat"] = {"id": -100500, "type": "group", "title": "g"}
    assert to_inbound(update(raw)) is None


def test_phone_numbers_are_normalised() -> None:
    assert normalise_phone("375291234567") == "+375291234567"
    assert normalise_phone("+375 (29) 123-45-67") == "+375291234567"
    assert normalise_phone("375171234567") is None, "a landline cannot receive the code"
    assert normalise_phone("12") is None and normalise_phone("no digits") is None
