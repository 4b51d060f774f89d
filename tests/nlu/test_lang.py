from __future__ import annotations

import pytest

from nlu import detect_language

RUSSIAN = [
    "Как проверить баланс?",
    "Какой у меня номер",
    "Хочу поговорить с оператором",
    "спасибо",
    "Подключите роуминг в Польше",
    "Добрый день! Не работает интернет уже второй день",
    "мой номер",
    "Здравствуйте, где посмотреть расход трафика?",
    "привет",
    "Ну и связь у вас, отвратительно",
    "да",
    "1 мая звонил, деньги списали",
    "Ёлки, опять баланс ушёл в минус",
]
BELARUSIAN = [
    "Як мне праверыць баланс?",
    "Які мой нумар?",
    "Дзякуй!",
    "Што рабіць у роўмінгу?",
    "Калі ласка, злучыце з аператарам",
    "Вельмі дрэнная сувязь",
    "мой нумар",
    "Добры дзень",
    "Прывітанне",
    "Трэба пагаварыць з чалавекам",
    "Колькі грошай на рахунку",
    "што з інтэрнэтам",
]
ENGLISH = [
    "How do I check my balance?",
    "What is my number",
    "roaming in Poland",
    "thanks!",
    "I want to talk to a human",
    "hi",
    "my SIM баланс is wrong",
]


@pytest.mark.parametrize("text", RUSSIAN)
def test_russian(text: str) -> None:
    assert detect_language(text) == "ru"


@pytest.mark.parametrize("text", BELARUSIAN)
def test_belarusian(text: str) -> None:
    assert detect_language(text) == "be"


@pytest.mark.parametrize("text", ENGLISH)
def test_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "   ", "*100#", "375291234567", "?!", "🙂"])
def test_no_letters_is_russian(text: str) -> None:
    assert detect_language(text) == "ru"


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("be", "be"), ("en", "en"), ("ru", "ru"), ("en-US", "en"), ("BE_by", "be")],
)
def test_a_known_hint_wins(hint: str, expected: str) -> None:
    assert detect_language("Как проверить баланс?", hint) == expected


@pytest.mark.parametrize("hint", [None, "", "uk", "de-DE"])
def test_an_unknown_hint_is_ignored(hint: str | None) -> None:
    assert detect_language("Дзякуй", hint) == "be"
    assert detect_language("Спасибо", hint) == "ru"
