"""The real data loads, is valid, and covers every intent family in every language."""

from __future__ import annotations

import pytest

from knowledge_base import (
    DEFAULT_DATA_DIR,
    KnowledgeBase,
    check_knowledge_base,
    load_knowledge_base,
)
from knowledge_base.checks import REQUIRED_PHRASES
from nlu.intents import all_intents, families

INTENT_FAMILIES = families()
FINE_INTENTS = tuple(intent for intent in all_intents() if intent not in INTENT_FAMILIES)


def test_the_real_data_is_valid() -> None:
    assert check_knowledge_base() == []
    assert check_knowledge_base(DEFAULT_DATA_DIR) == []


def test_the_real_data_loads(kb: KnowledgeBase) -> None:
    assert isinstance(load_knowledge_base(DEFAULT_DATA_DIR), KnowledgeBase)
    assert len(kb.articles) >= 15
    assert len(kb.countries) >= 40
    assert {zone.id for zone in kb.zones} >= {country.zone for country in kb.countries}
    assert len({article.id for article in kb.articles}) == len(kb.articles)


@pytest.mark.parametrize("lang", ["ru", "en", "be"])
@pytest.mark.parametrize("intent", INTENT_FAMILIES + FINE_INTENTS)
def test_every_intent_has_an_answer(kb: KnowledgeBase, intent: str, lang: str) -> None:
    answer = kb.answer(intent, {}, lang)
    assert answer is not None
    assert answer.text.strip()
    assert "{" not in answer.text and "}" not in answer.text
    assert answer.source in ("seed", "example")
    assert all(button.title and button.payload.startswith("/") for button in answer.buttons)


@pytest.mark.parametrize("intent", INTENT_FAMILIES)
def test_answers_are_in_the_language_asked(kb: KnowledgeBase, intent: str) -> None:
    texts = {lang: kb.answer(intent, {}, lang).text for lang in ("ru", "en")}  # type: ignore[union-attr]
    assert texts["ru"] != texts["en"]
    assert any("а" <= char <= "я" for char in texts["ru"].lower())
    assert not any("а" <= char <= "я" for char in texts["en"].lower())


@pytest.mark.parametrize("key", REQUIRED_PHRASES)
@pytest.mark.parametrize("lang", ["ru", "en", "be"])
def test_every_phrase_renders(kb: KnowledgeBase, key: str, lang: str) -> None:
    text = kb.phrase(key, lang, position="2", wait_minutes="3", agent="Anna",
                     phone="+375 29 123-45-67", minutes="5", remaining="2", code="123456",
                     amount="100")
    assert text.strip() and "{" not in text


@pytest.mark.parametrize("intent", INTENT_FAMILIES + FINE_INTENTS)
def test_every_intent_has_a_label(kb: KnowledgeBase, intent: str) -> None:
    labels = {lang: kb.intent_label(intent, lang) for lang in ("ru", "en", "be")}
    assert all(0 < len(label) <= 40 for label in labels.values())
    assert labels["ru"] != labels["en"]


def test_every_article_has_belarusian_text(kb: KnowledgeBase) -> None:
    assert [article.id for article in kb.articles if article.text.be is None] == []
