"""Replies as VK shows them: split below 4096 characters, inline keyboards within VK's rules
(which vk-api's VkKeyboard does not check), long payloads hashed, a stable random_id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import Button, OutboundMessage
from channels.common.button_payloads import hashed
from channels.vk.rendering import Part, button_payload, random_id, render

MAX_MESSAGE = 4096
COLORS = {"primary", "secondary", "negative", "positive"}


def valid_keyboard(raw: object) -> list[list[dict[str, Any]]]:
    """The keyboard checked against VK's rules for an inline keyboard (error 911 otherwise);
    returns its rows of actions."""
    assert isinstance(raw, str), "VK takes the keyboard as a JSON string (a dict is error 100)"
    data = json.loads(raw)
    assert data["inline"] is True
    rows = data["buttons"]
    assert 1 <= len(rows) <= 6, "an inline keyboard has at most 6 rows"
    assert sum(len(row) for row in rows) <= 10, "an inline keyboard has at most 10 buttons"
    actions = []
    for row in rows:
        assert 1 <= len(row) <= 5, "at most 5 buttons a row"
        for button in row:
            assert button.get("color", "primary") in COLORS
            action = button["action"]
            assert action["type"] == "text"
            assert isinstance(action["label"], str) and 1 <= len(action["label"]) <= 40
            payload = action["payload"]
            assert isinstance(payload, str), "a payload is a JSON string"
            assert len(payload.encode()) <= 255
            data = json.loads(payload)
            assert isinstance(data, dict) and isinstance(data["p"], str)
        actions.append([button["action"] for button in row])
    return actions


def keyboard_of(message: OutboundMessage) -> list[list[dict[str, Any]]]:
    parts = render(message)
    assert parts[-1].keyboard is not None
    return valid_keyboard(parts[-1].keyboard)


def buttons(count: int) -> tuple[Button, ...]:
    return tuple(Button(f"Кнопка {i}", f"/intent_{i}") for i in range(count))


def compact(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def press(action: dict[str, Any]) -> str:
    """What comes back when the button is pressed: our {"p": ...}."""
    return str(json.loads(action["payload"])["p"])


# -- text --------------------------------------------------------------------------------------

def test_a_short_reply_is_one_part_as_it_is() -> None:
    assert render(OutboundMessage(text="  Баланс: 12,50 BYN <b>*100#</b> & Ко  ")) == [
        Part("Баланс: 12,50 BYN <b>*100#</b> & Ко")]


def test_a_long_reply_is_split_below_vks_limit_losing_nothing() -> None:
    words = [f"слово{i}" for i in range(1300)]
    text = " ".join(words[:600]) + "\n\n" + "\n".join(words[600:])  # ~10,000 characters
    assert len(text) > 10_000
    parts = render(OutboundMessage(text=text))
    assert len(parts) >= 3
    assert all(0 < len(p.text) <= MAX_MESSAGE for p in parts)
    assert " ".join(p.text for p in parts).split() == text.split(), "no word cut or lost"


def test_a_long_reply_without_spaces_is_cut_hard_losing_nothing() -> None:
    text = "ж" * 10_000
    parts = render(OutboundMessage(text=text))
    assert all(len(p.text) <= MAX_MESSAGE for p in parts)
    assert "".join(p.text for p in parts) == text


def test_the_keyboard_goes_on_the_last_part_only() -> None:
    text = "\n".join(f"Строка {i}: " + "текст " * 20 for i in range(80))
    parts = render(OutboundMessage(text=text, buttons=buttons(2)))
    assert len(parts) >= 2
    assert [p.keyboard is None for p in parts] == [True] * (len(parts) - 1) + [False]
    valid_keyboard(parts[-1].keyboard)


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_an_empty_reply_cannot_be_rendered(text: str) -> None:
    with pytest.raises(ValueError, match="no text"):
        render(OutboundMessage(text=text, buttons=buttons(1)))


# -- keyboards ---------------------------------------------------------------------------------

def test_no_buttons_no_keyboard() -> None:
    assert render(OutboundMessage(text="Готово")) == [Part("Готово", None)]


def test_buttons_are_an_inline_keyboard_one_a_row() -> None:
    rasa = '/roaming{"country": "Польша"}'
    message = OutboundMessage(text="Чем помочь?", buttons=(
        Button("Баланс", "/check_balance"), Button("Роуминг", rasa)))
    rows = keyboard_of(message)
    assert [[(a["label"], a["payload"]) for a in row] for row in rows] == [
        [("Баланс", '{"p":"/check_balance"}')],
        [("Роуминг", compact({"p": rasa}))],
    ]
    assert press(rows[1][0]) == rasa


@pytest.mark.parametrize(("count", "shape"), [
    (1, [1]), (6, [1] * 6), (7, [2, 2, 2, 1]), (8, [2] * 4), (10, [2] * 5),
])
def test_seven_to_ten_buttons_go_two_a_row(count: int, shape: list[int]) -> None:
    rows = keyboard_of(OutboundMessage(text="Выберите", buttons=buttons(count)))
    assert [len(row) for row in rows] == shape
    assert [a["label"] for row in rows for a in row] == [f"Кнопка {i}" for i in range(count)]


def test_more_than_ten_buttons_show_the_first_ten() -> None:
    rows = keyboard_of(OutboundMessage(text="Выберите", buttons=buttons(14)))
    assert [press(a) for row in rows for a in row] == [f"/intent_{i}" for i in range(10)]


def test_a_phone_request_is_not_a_button_on_vk() -> None:
    alone = render(OutboundMessage(text="Поделитесь номером", request_phone=True))
    assert alone == [Part("Поделитесь номером", None)]
    rows = keyboard_of(OutboundMessage(text="Поделитесь номером", request_phone=True,
                                       buttons=(Button("Не сейчас", "/deny"),)))
    assert [[a["label"] for a in row] for row in rows] == [["Не сейчас"]]
    assert all(a["type"] == "text" for row in rows for a in row)


def test_long_labels_are_cut_with_an_ellipsis() -> None:
    title = "Очень длинное название тарифа для абонентов с роумингом"
    [[action]] = keyboard_of(OutboundMessage(text="x", buttons=(Button(title, "/t"),)))
    assert len(action["label"]) == 40 and action["label"].endswith("…")
    assert title.startswith(action["label"][:-1].rstrip())
    exact = "Ж" * 40
    [[kept]] = keyboard_of(OutboundMessage(text="x", buttons=(Button(exact, "/t"),)))
    assert kept["label"] == exact


def test_label_whitespace_is_collapsed_and_a_blank_label_is_never_sent() -> None:
    rows = keyboard_of(OutboundMessage(text="x", buttons=(
        Button("  Баланс \n и  тарифы ", "/b"), Button("   ", "/blank"))))
    assert rows[0][0]["label"] == "Баланс и тарифы"
    assert rows[1][0]["label"].strip(), "VK refuses an empty label"


# -- payloads ----------------------------------------------------------------------------------

def test_short_payloads_go_as_they_are() -> None:
    assert json.loads(button_payload("/check_balance")) == {"p": "/check_balance"}
    rasa = '/roaming{"country": "Великобритания"}'
    assert json.loads(button_payload(rasa)) == {"p": rasa}


def test_a_payload_of_exactly_255_bytes_is_kept_and_one_more_is_hashed() -> None:
    fits = "/" + "a" * 246  # {"p":"..."} adds 8 bytes
    assert len(button_payload(fits).encode()) == 255
    assert json.loads(button_payload(fits)) == {"p": fits}
    over = fits + "a"
    assert json.loads(button_payload(over)) == {"p": hashed(over)}


def test_bytes_are_counted_not_characters() -> None:
    cyrillic = "/tariff" + "я" * 124  # 131 characters, 255 bytes; 263 bytes as JSON
    assert len(cyrillic) + 8 < 255 < len(cyrillic.encode()) + 8
    assert json.loads(button_payload(cyrillic)) == {"p": hashed(cyrillic)}


def test_bytes_are_counted_after_json_escaping() -> None:
    quoted = '/x{"k": "' + "v" * 234 + '"}'  # 245 bytes (+8 for {"p":""}); 4 quotes escaped
    assert len(quoted.encode()) + 8 <= 255 < len(compact({"p": quoted}).encode())
    assert json.loads(button_payload(quoted)) == {"p": hashed(quoted)}


def test_a_payload_that_looks_hashed_is_hashed_too() -> None:
    """A press on it would otherwise be looked up as a hash instead of taken as it is."""
    assert json.loads(button_payload("#cheap")) == {"p": hashed("#cheap")}
    assert hashed("#cheap") != "#cheap"


def test_a_long_payload_on_a_button_comes_back_hashed() -> None:
    long = '/roaming_prices{"country": "' + "Соединённые Штаты Америки " * 6 + '"}'
    rows = keyboard_of(OutboundMessage(text="x", buttons=(Button("США", long),)))
    assert press(rows[0][0]) == hashed(long)
    assert len(rows[0][0]["payload"].encode()) <= 255


titles = st.text(max_size=60)
raw_payloads = st.text(min_size=1, max_size=200) | st.text(alphabet="яЖ\"\\#/{} ", max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(Button, titles, raw_payloads), max_size=15),
       st.text(min_size=1, max_size=50).filter(str.strip), st.booleans())
def test_every_keyboard_is_valid_by_vks_rules(shown: list[Button], text: str, phone: bool
                                              ) -> None:
    parts = render(OutboundMessage(text=text, buttons=tuple(shown), request_phone=phone))
    if not shown:
        assert all(p.keyboard is None for p in parts)
        return
    rows = valid_keyboard(parts[-1].keyboard)
    actions = [a for row in rows for a in row]
    assert len(actions) == min(len(shown), 10)
    for action, button in zip(actions, shown, strict=False):
        payload = press(action)
        assert payload in (button.payload, hashed(button.payload)), "a press leads back"


# -- random_id ---------------------------------------------------------------------------------

def test_random_id_is_the_same_on_every_retry() -> None:
    assert random_id(1234, 0) == random_id(1234, 0) == random_id(1234, 0)
    assert random_id("1234", 1) == random_id(1234, 1), "the row id as read from the database"


def test_random_id_differs_between_parts_and_rows() -> None:
    ids = {random_id(row, part) for row in range(1, 201) for part in range(5)}
    assert len(ids) == 1000
    assert random_id(1, 12) != random_id(11, 2)
    assert random_id(7, 0, "Баланс: *100#") != random_id(7, 0, "Другой ответ"), \
        "a reused row id (a restored database) with another text is another message"


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2**63) | st.text(max_size=40),
       st.integers(min_value=0, max_value=1000))
def test_random_id_is_a_positive_signed_32_bit_number(delivery: object, part: int) -> None:
    assert 1 <= random_id(delivery, part) <= 2**31 - 1
    assert random_id(delivery, part) == random_id(delivery, part)
