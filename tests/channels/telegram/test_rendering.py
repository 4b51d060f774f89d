"""Replies as Telegram shows them: escaping, splitting, keyboards, long button payloads."""

from __future__ import annotations

import random

import pytest
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.messages import Button, OutboundMessage
from channels.common.text_parts import split_text, utf16_len
from channels.telegram.payloads import MAX_CALLBACK_DATA, callback_data, is_hashed
from channels.telegram.rendering import DEFAULT_PHONE_LABEL, escape, render


def test_text_is_escaped_for_the_html_parse_mode() -> None:
    assert escape('1 < 2 & 3 > 2 "quoted" <b>not bold</b>') == \
        '1 &lt; 2 &amp; 3 &gt; 2 "quoted" &lt;b&gt;not bold&lt;/b&gt;'
    [part] = render(OutboundMessage(text="Баланс: *100# <и> Ко & Ко"))
    assert part.html == "Баланс: *100# &lt;и&gt; Ко &amp; Ко"


def test_a_short_text_is_one_part() -> None:
    assert split_text("  Здравствуйте!  ") == ["Здравствуйте!"]
    assert split_text("") == []


def test_a_long_text_is_cut_at_a_paragraph_then_a_line_then_a_word() -> None:
    first, short, last = ("слово " * 30).strip(), "коротко " * 6, ("слово " * 30).strip()
    text = f"{first}\n\n{short.strip()}\n{last}"  # 179 + 2 + 47 + 1 + 179 characters
    assert split_text(text, limit=300) == [first, f"{short.strip()}\n{last}"]
    lines = split_text(f"{first}\n{last}\n{last}", limit=400)
    assert lines == [f"{first}\n{last}", last]
    words = split_text("слово " * 100, limit=100)
    assert all(utf16_len(p) <= 100 for p in words)
    assert all(p.split() == ["слово"] * len(p.split()) for p in words), "never inside a word"


def test_a_text_without_spaces_is_cut_hard() -> None:
    parts = split_text("x" * 250, limit=100)
    assert [len(p) for p in parts] == [100, 100, 50]


def test_lengths_are_counted_as_telegram_counts_them() -> None:
    emoji = "😀" * 60  # each is two UTF-16 units
    parts = split_text(emoji, limit=100)
    assert [utf16_len(p) for p in parts] == [100, 20]


def test_random_texts_split_within_the_limit_and_lose_nothing() -> None:
    rng = random.Random(4096)
    alphabet = ["а", "b", " ", "\n", "😀", "&", "<", "ы"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
        limit = rng.randint(2, 120)
        parts = split_text(text, limit)
        assert all(0 < utf16_len(p) <= limit for p in parts)
        assert "".join("".join(parts).split()) == "".join(text.split())


def test_a_reply_longer_than_one_message_is_several_parts_with_buttons_on_the_last() -> None:
    text = "\n".join(f"Строка {i}: " + "текст " * 20 for i in range(60))  # ~8000 characters
    message = OutboundMessage(text=text, buttons=(Button("Баланс", "/check_balance"),))
    parts = render(message)
    assert len(parts) == 2
    assert all(utf16_len(p.html) <= 4096 for p in parts)
    assert parts[0].reply_markup is None
    assert isinstance(parts[1].reply_markup, InlineKeyboardMarkup)


def test_buttons_are_an_inline_keyboard_one_a_row() -> None:
    message = OutboundMessage(text="Чем помочь?", buttons=(
        Button("Баланс", "/check_balance"), Button("Роуминг", '/roaming{"country": "Poland"}')))
    [part] = render(message)
    markup = part.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("Баланс", "/check_balance")], [("Роуминг", '/roaming{"country": "Poland"}')]]


def test_long_payloads_go_as_a_short_stable_token() -> None:
    long = '/roaming_prices{"country": "Соединённые Штаты Америки"}'
    assert len(long.encode()) > MAX_CALLBACK_DATA
    token = callback_data(long)
    assert is_hashed(token) and len(token.encode()) <= MAX_CALLBACK_DATA
    assert callback_data(long) == token, "the same payload, the same token"
    assert callback_data(long + " ") != token
    assert is_hashed(callback_data("#looks-like-a-token")), "a '#' payload is never taken as is"
    assert callback_data("/check_balance") == "/check_balance"


def test_a_phone_request_is_a_one_time_reply_keyboard() -> None:
    message = OutboundMessage(text="Поделитесь номером", request_phone=True,
                              buttons=(Button("Не сейчас", "/deny"),))
    [part] = render(message)
    markup = part.reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.one_time_keyboard is True and markup.resize_keyboard is True
    first, second = markup.keyboard
    assert first[0].text == DEFAULT_PHONE_LABEL and first[0].request_contact is True
    assert second[0].text == "Не сейчас" and not second[0].request_contact


def test_the_core_can_name_the_phone_button() -> None:
    message = OutboundMessage(text="Share your phone", request_phone=True,
                              metadata={"request_phone_label": "Share my phone"})
    [part] = render(message)
    assert isinstance(part.reply_markup, ReplyKeyboardMarkup)
    assert part.reply_markup.keyboard[0][0].text == "Share my phone"


def test_an_empty_reply_cannot_be_rendered() -> None:
    with pytest.raises(ValueError, match="no text"):
        render(OutboundMessage(text="  ", buttons=(Button("Баланс", "/check_balance"),)))
