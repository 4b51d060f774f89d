"""Subjects: prefixes stripped for the thread key, exactly one "Re: " on a reply."""

from __future__ import annotations

import pytest

from channels.email.subjects import is_forward, normalise_subject, reply_subject, strip_prefixes

PREFIXED = [
    "Re: Баланс", "RE: Баланс", "re:Баланс", "Re[2]: Баланс", "Re(3): Баланс", "Re^2: Баланс",
    "Fwd: Баланс", "Fw: Баланс", "FW: Баланс", "Ответ: Баланс", "Отв: Баланс", "ОТВ: Баланс",
    "Пересл: Баланс", "Адказ: Баланс", "AW: Баланс", "WG: Баланс", "Re : Баланс",
    "Re: RE: Fwd: Ответ: Баланс", "Re:Re:Re: Баланс", "  Re:   Баланс  ", "Re：Баланс",
]


@pytest.mark.parametrize("subject", PREFIXED)
def test_any_number_of_prefixes_is_stripped(subject: str) -> None:
    assert strip_prefixes(subject) == "Баланс"
    assert normalise_subject(subject) == "баланс"
    assert reply_subject(subject) == "Re: Баланс"


def test_the_thread_key_collapses_whitespace_and_case() -> None:
    assert normalise_subject("Re:  Не   работает\tИНТЕРНЕТ ") == "не работает интернет"
    assert normalise_subject("STRASSE") == normalise_subject("straße"), "casefolded, not lowered"


@pytest.mark.parametrize("subject", [
    "Replay не работает", "Reboot: как?", "Ответ оператора: непонятно", "Fwdx: x", "Отказ: почему",
    "Баланс: Re: ошибка",
])
def test_words_that_only_begin_like_a_prefix_stay(subject: str) -> None:
    assert strip_prefixes(subject) == subject
    assert reply_subject(subject) == f"Re: {subject}"


def test_an_empty_subject_gets_the_default_or_the_given_text() -> None:
    assert reply_subject("") == "Re: Ваше обращение"
    assert reply_subject("Re:") == "Re: Ваше обращение"
    assert reply_subject("  Fwd:  ", empty="Your request") == "Re: Your request"
    assert reply_subject("", empty="Re: Обращение") == "Re: Обращение", "never Re: Re:"
    assert normalise_subject("Re: ") == ""


def test_forwards_are_told_from_replies_by_the_outermost_prefix() -> None:
    assert is_forward("Fwd: Баланс") and is_forward("FW: Re: Баланс")
    assert is_forward("Пересл: Баланс") and is_forward("WG: x")
    assert not is_forward("Re: Fwd: Баланс")
    assert not is_forward("Баланс") and not is_forward("")
