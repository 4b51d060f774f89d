"""Sentiment (the classifier, and the lexicon it builds on): strongly negative outbursts in ru/en/be, and no false alarms."""

from __future__ import annotations

import pytest

from handoff.lexicon import parse_lexicon
from handoff.sentiment import Label, analyse, lexicon_analyse


@pytest.mark.parametrize(
    "text",
    [
        "Вы меня достали, ужасный сервис!!!",
        "ВЕРНИТЕ ДЕНЬГИ, МОШЕННИКИ",
        "это просто издевательство, ненавижу ваш оператор",
        "I hate you, worst service ever",
        "this is a scam!!",
        "Гэта жахліва, вы махляры",
        "сколько можно ждать?!",
    ],
)
def test_outbursts_are_strongly_negative(text: str) -> None:
    result = analyse(text)
    assert result.label == Label.STRONGLY_NEGATIVE, result
    assert result.strongly_negative
    assert result.cues


@pytest.mark.parametrize(
    "text",
    [
        "позовите оператора",
        "какой у меня баланс",
        "не работает интернет в Польше",
        "I'm in Poland and mobile data doesn't work",
        "як праверыць баланс",
        "это ужасно",  # negative, but one word is not an outburst
        "<img src=x onerror=alert(1)>",
        "",
    ],
)
def test_ordinary_messages_are_not_strongly_negative(text: str) -> None:
    assert not analyse(text).strongly_negative


def test_negation_and_intensifiers() -> None:
    assert analyse("не очень хорошо").score < 0
    assert analyse("очень плохо").score < analyse("плохо").score
    # The lexicon reads a negated complaint as mildly positive; the classifier calls it neutral.
    assert lexicon_analyse("не ужасно").score > 0
    assert analyse("не ужасно").label == Label.NEUTRAL
    assert analyse("спасибо, всё отлично").label == Label.POSITIVE


def test_shouting_and_exclamations_add_to_negative_only() -> None:
    assert analyse("ужасно!!!").score < analyse("ужасно").score
    # The lexicon adds emphasis to negative scores only; the classifier's score comes from
    # probabilities, so a shouted thank-you need only stay positive there.
    assert lexicon_analyse("СПАСИБО БОЛЬШОЕ!!!").score == lexicon_analyse("спасибо большое").score
    assert analyse("СПАСИБО БОЛЬШОЕ!!!").label == Label.POSITIVE


def test_the_lexicon_is_validated() -> None:
    with pytest.raises(ValueError, match="ru, en and be"):
        parse_lexicon({"cancel": {"ru": ["отмена"]}})
    good = {k: {"ru": ["x"], "en": ["y"], "be": ["z"]}
            for k in ("cancel", "negators", "intensifiers")}
    with pytest.raises(ValueError, match="weight"):
        parse_lexicon({**good, "sentiment": {"ru": {"плохо": -9}, "en": {}, "be": {}}})
