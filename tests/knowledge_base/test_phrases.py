"""kb.phrase and kb.intent_label."""

from __future__ import annotations

import pytest

from knowledge_base import KnowledgeBase


def test_phrases_in_each_language(kb: KnowledgeBase) -> None:
    assert "понял" in kb.phrase("clarify", "ru")
    assert kb.phrase("clarify", "en") == "I'm not sure I understood. Did you mean:"
    assert "зразумеў" in kb.phrase("clarify", "be")
    assert kb.phrase("clarify", "de") == kb.phrase("clarify", "ru")


@pytest.mark.parametrize("lang", ["ru", "en", "be"])
def test_nlu_unavailable_gives_all_four_numbers(kb: KnowledgeBase, lang: str) -> None:
    text = kb.phrase("nlu_unavailable", lang)
    for number in ("0890", "*7777", "8 017 237-98-98", "+375 29 7770890"):
        assert number in text


def test_phrases_with_variables(kb: KnowledgeBase) -> None:
    waiting = kb.phrase("handoff_waiting", "en", position="3", wait_minutes="2")
    assert "3" in waiting and "2 min" in waiting
    assert kb.phrase("handoff_waiting", "ru", position=1, wait_minutes=3).count("3") == 1
    assert kb.phrase("agent_joined", "en", agent="Anna") == "Anna has joined the conversation."
    assert kb.phrase("greeting", "en", agent="ignored") == kb.phrase("greeting", "en")


def test_a_missing_variable_is_an_error(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="agent"):
        kb.phrase("agent_joined", "ru")


def test_an_unknown_phrase_is_a_key_error(kb: KnowledgeBase) -> None:
    with pytest.raises(KeyError):
        kb.phrase("no_such_phrase", "ru")


def test_intent_labels(kb: KnowledgeBase) -> None:
    assert kb.intent_label("check_balance", "ru") == "Баланс"
    assert kb.intent_label("roaming", "en") == "Roaming"
    assert kb.intent_label("roaming_trouble", "be") == "Не працуе сувязь у роўмінгу"
    assert kb.intent_label("roaming_esim", "en") == "Roaming"  # a fine intent without a label
    with pytest.raises(KeyError):
        kb.intent_label("weather", "ru")
