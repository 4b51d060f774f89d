"""kb.answer: picking the article, rendering it in the subscriber's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import Answer, AnswerButton, KnowledgeBase, load_knowledge_base
from tests.support.kb_files import replace_in

PHONE_ABROAD = "+375 29 7770890"
ALL_NUMBERS = ("0890", "*7777", "8 017 237-98-98", PHONE_ABROAD)


def answer(kb: KnowledgeBase, intent: str, lang: str = "ru", **entities: str) -> Answer:
    result = kb.answer(intent, entities, lang)
    assert result is not None
    return result


def test_roaming_trouble_in_poland_names_the_country_and_the_number_for_abroad(
    kb: KnowledgeBase,
) -> None:
    ru = answer(kb, "roaming_trouble", "ru", country="Poland")
    en = answer(kb, "roaming_trouble", "en", country="Poland")
    assert ru.article_id == en.article_id == "roaming_trouble_country"
    assert "Польш" in ru.text
    assert "Poland" in en.text
    for text in (ru.text, en.text):
        assert PHONE_ABROAD in text
    assert "Перезагрузите" in ru.text and "вручную" in ru.text
    assert "Restart" in en.text and "data roaming" in en.text


def test_roaming_trouble_without_a_country(kb: KnowledgeBase) -> None:
    result = answer(kb, "roaming_trouble", "en")
    assert result.article_id == "roaming_trouble_general"
    assert PHONE_ABROAD in result.text


@pytest.mark.parametrize("lang", ["ru", "en", "be"])
def test_support_contacts_lists_all_four_numbers(kb: KnowledgeBase, lang: str) -> None:
    result = answer(kb, "support_contacts", lang)
    assert result.source == "seed"
    for number in ALL_NUMBERS:
        assert number in result.text
    assert "24/7" in result.text


def test_support_contacts_says_the_hotline_identifies_the_caller(kb: KnowledgeBase) -> None:
    assert "персональные данные" in answer(kb, "support_contacts", "ru").text
    assert "personal details" in answer(kb, "support_contacts", "en").text


def test_out_of_scope_is_not_a_topic_article(kb: KnowledgeBase) -> None:
    result = answer(kb, "out_of_scope", "en")
    topic_articles = {a.id for a in kb.articles if a.family in kb.topics}
    assert result.article_id not in topic_articles
    assert "can't help" in result.text
    assert [button.payload for button in result.buttons] == [f"/{t}" for t in kb.topics]
    assert not result.needs_agent
    ru = answer(kb, "out_of_scope", "ru")
    assert [button.title for button in ru.buttons] == [
        "Баланс",
        "Мой номер",
        "Роуминг",
        "Номера поддержки",
    ]


@pytest.mark.parametrize("intent", ["complaint", "human_request"])
def test_complaints_and_requests_for_a_person_need_an_agent(kb: KnowledgeBase, intent: str) -> None:
    assert answer(kb, intent).needs_agent


@pytest.mark.parametrize("intent", ["greet", "check_balance", "roaming", "out_of_scope"])
def test_other_answers_do_not_need_an_agent(kb: KnowledgeBase, intent: str) -> None:
    assert not answer(kb, intent).needs_agent


def test_general_roaming_asks_for_the_country(kb: KnowledgeBase) -> None:
    result = answer(kb, "roaming", "en")
    assert result.article_id == "roaming_general"
    assert result.asks == "country"
    assert PHONE_ABROAD in result.text
    assert AnswerButton("Poland", '/roaming{"country": "Poland"}') in result.buttons


def test_a_country_picks_the_article_that_requires_it(kb: KnowledgeBase) -> None:
    result = answer(kb, "roaming", "ru", country="Turkey")
    assert result.article_id == "roaming_country"
    assert result.asks is None
    assert "Турция" in result.text
    assert "2,99 BYN" in result.text  # the zone's example price, with a decimal comma
    assert "2.99 BYN" in answer(kb, "roaming", "en", country="Turkey").text


def test_the_country_may_be_any_surface_form(kb: KnowledgeBase) -> None:
    assert answer(kb, "roaming_prices", "ru", country="польшу").article_id == (
        "roaming_prices_country"
    )
    assert "Poland" in answer(kb, "roaming_prices", "en", country="Польше").text


def test_the_fine_intent_comes_before_its_family(kb: KnowledgeBase) -> None:
    assert answer(kb, "check_balance_negative").article_id == "balance_negative"
    assert answer(kb, "roaming_prices").article_id == "roaming_prices_general"
    assert answer(kb, "roaming_prices", country="Poland").article_id == "roaming_prices_country"


@pytest.mark.parametrize(
    ("intent", "article_id", "code"),
    [
        ("tariff", "tariff_general", "*147#"),
        ("roaming_status", "roaming_status_general", "*140#"),
        ("roaming_enable", "roaming_enable_general", "*140*1#"),
        ("roaming_disable", "roaming_disable_general", "*140*0#"),
    ],
)
@pytest.mark.parametrize("lang", ["ru", "en", "be"])
def test_the_self_service_answers_for_ones_own_number(
    kb: KnowledgeBase, intent: str, article_id: str, code: str, lang: str
) -> None:
    # a country ("лечу в Турцию, включите роуминг") must not turn the action into price lists
    for result in (answer(kb, intent, lang), answer(kb, intent, lang, country="Turkey")):
        assert result.article_id == article_id
        assert code in result.text
        assert result.source == "example"
    if intent.startswith("roaming"):
        assert PHONE_ABROAD in answer(kb, intent, lang).text


def test_switching_roaming_names_every_support_number(kb: KnowledgeBase) -> None:
    for intent in ("roaming_enable", "roaming_disable", "tariff"):
        text = answer(kb, intent, "en").text
        assert all(number in text for number in ALL_NUMBERS), intent


def test_an_unknown_fine_intent_falls_back_to_its_family(kb: KnowledgeBase) -> None:
    assert answer(kb, "roaming_esim").article_id == "roaming_general"
    assert answer(kb, "roaming_esim", country="Poland").article_id == "roaming_country"


def test_an_unknown_country_counts_as_absent(kb: KnowledgeBase) -> None:
    result = answer(kb, "roaming_trouble", country="Atlantis")
    assert result.article_id == "roaming_trouble_general"


@pytest.mark.parametrize("intent", ["", "nlu_fallback", "weather", "roamingfoo"])
def test_an_unknown_intent_has_no_answer(kb: KnowledgeBase, intent: str) -> None:
    assert kb.answer(intent, {}, "ru") is None


def test_languages_fall_back_to_russian(kb: KnowledgeBase) -> None:
    russian = answer(kb, "greet", "ru")
    assert answer(kb, "greet", "de").text == russian.text
    assert answer(kb, "greet", "ru-RU").text == russian.text
    assert answer(kb, "greet", "EN").text == answer(kb, "greet", "en").text


def test_belarusian_answers(kb: KnowledgeBase) -> None:
    result = answer(kb, "roaming_trouble", "be", country="Poland")
    assert "Польшча" in result.text
    assert "Перазагрузіце" in result.text
    assert answer(kb, "greet", "be").buttons[0].title == "Баланс"


def test_an_article_that_requires_an_absent_entity_is_skipped(data_dir: Path) -> None:
    extra = data_dir / "articles" / "esim.yml"
    extra.write_text(
        "articles:\n"
        "  - id: esim_country\n"
        "    intent: roaming_esim\n"
        "    requires: [country]\n"
        "    source: example\n"
        "    text: {ru: 'eSIM: {country}', en: 'eSIM: {country}'}\n",
        encoding="utf-8",
    )
    replace_in(
        data_dir / "intent_labels.yml",
        "intent_labels:\n",
        "intent_labels:\n  roaming_esim: {ru: eSIM, en: eSIM}\n",
    )
    kb = load_knowledge_base(data_dir)
    assert kb.answer("roaming_esim", {}, "ru").article_id == "roaming_general"  # type: ignore[union-attr]
    with_country = kb.answer("roaming_esim", {"country": "Latvia"}, "en")
    assert with_country is not None
    assert with_country.article_id == "esim_country"
    assert with_country.text == "eSIM: Latvia"
