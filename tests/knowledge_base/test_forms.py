"""Country surface forms: Russian cases from pymorphy3, aliases, Belarusian forms, ё/е."""

from __future__ import annotations

import pytest

from knowledge_base import KnowledgeBase
from knowledge_base.forms import normalise, russian_forms


def test_russian_case_forms_of_a_single_word() -> None:
    forms = russian_forms("Польша")
    # в Польшу, из Польши, в Польше, с Польшей
    assert {"польша", "польши", "польше", "польшу", "польшей"} <= forms


def test_masculine_and_plural_names() -> None:
    assert {"кипр", "кипра", "кипру", "кипром", "кипре"} <= russian_forms("Кипр")
    assert {"мальдивы", "мальдив", "мальдивах", "мальдивам"} <= russian_forms("Мальдивы")


def test_multi_word_names_inflect_every_word_that_agrees() -> None:
    forms = russian_forms("Объединённые Арабские Эмираты")
    assert "объединённых арабских эмиратах" in forms
    assert "объединенных арабских эмиратов" in forms  # ё written as е
    assert "объединённые арабские эмираты" in forms  # accusative of an inanimate name
    assert {"южная корея", "южной кореи", "южную корею", "южной корее"} <= russian_forms(
        "Южная Корея"
    )


def test_words_after_the_head_noun_stay_as_they_are() -> None:
    forms = russian_forms("Соединённые Штаты Америки")
    assert "соединённых штатах америки" in forms
    assert not any(form.endswith("америке") for form in forms)


def test_indeclinable_names() -> None:
    assert russian_forms("ОАЭ") == {"оаэ"}


def test_normalise() -> None:
    assert normalise("  Аб’яднаныя   Эміраты ") == "аб'яднаныя эміраты"


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("польшу", "Poland"),
        ("Польши", "Poland"),
        ("польше", "Poland"),
        ("Poland", "Poland"),
        ("POLAND", "Poland"),
        ("Польшча", "Poland"),
        ("Польшчы", "Poland"),
        ("Польшчу", "Poland"),
        ("Emirates", "United Arab Emirates"),
        ("UAE", "United Arab Emirates"),
        ("ОАЭ", "United Arab Emirates"),
        ("Эмиратах", "United Arab Emirates"),
        ("объединенных арабских эмиратах", "United Arab Emirates"),
        ("Аб’яднаных Арабскіх Эміратах", "United Arab Emirates"),
        ("США", "United States"),
        ("Штаты", "United States"),
        ("Америку", "United States"),
        ("UK", "United Kingdom"),
        ("Britain", "United Kingdom"),
        ("Англии", "United Kingdom"),
        ("Турцию", "Turkey"),
        ("Грузии", "Georgia"),
        ("Египте", "Egypt"),
        ("Егіпце", "Egypt"),
        ("Тайланде", "Thailand"),
        ("южной корее", "South Korea"),
        ("Черногорию", "Montenegro"),
    ],
)
def test_country_by_any_form(kb: KnowledgeBase, value: str, canonical: str) -> None:
    country = kb.country(value)
    assert country is not None, value
    assert country.canonical == canonical


@pytest.mark.parametrize("value", ["", "Atlantis", "в Польшу", "баланс"])
def test_unknown_countries(kb: KnowledgeBase, value: str) -> None:
    assert kb.country(value) is None


def test_the_lookup_table_for_the_nlu(kb: KnowledgeBase) -> None:
    lookup = kb.country_lookup()
    assert all(form == form.lower() for form in lookup)
    assert {lookup[form] for form in ("польшу", "польши", "польше", "польша")} == {"Poland"}
    assert lookup["emirates"] == "United Arab Emirates"
    assert set(lookup.values()) == {country.canonical for country in kb.countries}
    for country in kb.countries:
        assert lookup[country.canonical.lower()] == country.canonical
        assert lookup[country.names.ru.lower()] == country.canonical
        assert lookup[normalise(country.names.be)] == country.canonical
    lookup.clear()
    assert kb.country_lookup()  # a copy


def test_country_names_are_localised(kb: KnowledgeBase) -> None:
    poland = kb.country("Poland")
    assert poland is not None
    assert (poland.name("ru"), poland.name("en"), poland.name("be")) == (
        "Польша",
        "Poland",
        "Польшча",
    )
    assert poland.name("de") == "Польша"
