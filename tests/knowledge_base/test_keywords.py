"""The keyword understanding used while Rasa is down: the packaged knowledge_base/data/keywords.yml, matching
rules, countries from the real knowledge base, and validation errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import load_knowledge_base
from knowledge_base.keywords import KeywordError, KeywordMatcher
from nlu import FAMILIES, KEYWORDS_MODEL_ID, intent_family


@pytest.fixture(scope="module")
def matcher() -> KeywordMatcher:
    return KeywordMatcher.load(countries=load_knowledge_base().country_lookup())


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("какой у меня баланс", "check_balance"),
        ("Баланс?", "check_balance"),
        ("проверить остаток на счёте", "check_balance"),  # ё folds to е
        ("what is my balance", "check_balance"),
        ("баланс в минусе", "check_balance_negative"),  # the more specific intent comes first
        ("мой номер", "my_number"),
        ("какой у меня тариф", "tariff"),
        ("тариф на моём номере", "tariff"),  # not my_number: tariff is listed before
        ("what's my plan", "tariff"),
        ("які ў мяне тарыф", "tariff"),
        ("тарифы в роуминге", "roaming"),  # roaming prices, not one's own tariff
        ("які мой нумар", "my_number"),
        ("номер поддержки", "support_contacts"),  # not my_number: support is listed before
        ("телефон горячей линии", "support_contacts"),
        ("роуминг", "roaming"),
        ("не работает интернет в роуминге", "roaming"),  # a stem matches its case forms
        ("roaming prices", "roaming"),
        ("роўмінг", "roaming"),
        ("позовите оператора", "human_request"),
        ("operator please", "human_request"),
        ("аператар", "human_request"),
        ("хочу поговорить с человеком", "human_request"),
        ("спасибо!", "thanks"),
        ("hi", "greet"),
    ],
)
def test_keywords_find_their_intent(matcher: KeywordMatcher, text: str, intent: str) -> None:
    result = matcher.match(text)
    assert result is not None, text
    assert (result.intent, result.family) == (intent, intent_family(intent))
    assert result.model_id == KEYWORDS_MODEL_ID == "keywords"
    assert result.confidence == 1.0 and result.ranking[0].name == intent


@pytest.mark.parametrize(
    "text", ["рецепт борща", "qwerty asdf", "", "   ", "his history", "чем заняться вечером"]
)
def test_no_keyword_no_result(matcher: KeywordMatcher, text: str) -> None:
    # "his"/"history" must not match the whole-word keyword "hi"
    assert matcher.match(text) is None


def test_a_country_is_the_country_entity_with_its_place(matcher: KeywordMatcher) -> None:
    text = "роуминг в Польше"
    result = matcher.match(text)
    assert result is not None and result.intent == "roaming"
    assert result.entities_dict() == {"country": "Poland"}
    entity = result.entities[0]
    assert text[entity.start:entity.end] == entity.text == "Польше"


def test_a_country_alone_means_roaming(matcher: KeywordMatcher) -> None:
    # the answer to "where are you going?" while Rasa is down
    result = matcher.match("в Турцию")
    assert result is not None
    assert result.intent == "roaming" and result.entities_dict() == {"country": "Turkey"}


def test_the_longest_country_name_wins(matcher: KeywordMatcher) -> None:
    result = matcher.match("I am in the United Arab Emirates")
    assert result is not None and result.entities_dict() == {"country": "United Arab Emirates"}


def test_without_countries_a_country_alone_is_not_understood() -> None:
    assert KeywordMatcher.default().match("в Турцию") is None


def test_the_language_is_detected_or_hinted(matcher: KeywordMatcher) -> None:
    assert matcher.match("balance").lang == "en"  # type: ignore[union-attr]
    assert matcher.match("баланс").lang == "ru"  # type: ignore[union-attr]
    assert matcher.match("баланс", "be").lang == "be"  # type: ignore[union-attr]


def test_the_packaged_file_covers_the_topics_and_only_known_intents() -> None:
    intents = KeywordMatcher.default().intents
    for topic in ("check_balance", "my_number", "roaming", "support_contacts", "human_request"):
        assert topic in intents
    assert all(intent_family(i) in FAMILIES for i in intents)


# -- validation ----------------------------------------------------------------------------

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keywords.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(KeywordError) as caught:
        KeywordMatcher.load(path)
    return caught.value.problems


def test_a_valid_small_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "intents:\n  check_balance:\n    ru: [баланс*]\n")
    assert KeywordMatcher.load(path).match("балансе").intent == "check_balance"  # type: ignore[union-attr]


def test_errors_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "intents:\n"
        "  check_balance:\n"
        "    ru: [баланс, 'б*']\n"  # line 3: a stem too short
        "    xx: [money]\n"  # line 4: unknown language
        "  pizza_order:\n"  # line 5: unknown intent
        "    en: [pizza]\n"
        "  my_number:\n"
        "    ru: [баланс]\n"  # line 8: the same keyword as check_balance
        "    en: [two words!]\n"  # line 9: not a word
        "country_intent: weather\n"  # line 10
        "extra: 1\n",  # line 11
    )
    found = problems(path)
    name = path.name
    expected = [
        (":3: intents.check_balance.ru[1]", "too short"),
        (":4: intents.check_balance.xx", "unknown language"),
        (":5: intents.pizza_order", "unknown intent"),
        (":8: intents.my_number.ru[0]", "also a keyword of check_balance (line 3)"),
        (":9: intents.my_number.en[0]", "not a word"),
        (":10: country_intent", "known intent"),
        (":11: extra", "unknown field"),
    ]
    assert len(found) == len(expected), found
    for (where, what), problem in zip(expected, sorted(found, key=_line), strict=True):
        assert name in problem and where in problem and what in problem, problem


def _line(problem: str) -> int:
    return int(problem.split(":")[1])


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "intents:\n  check_balance:\n    ru: [баланс\n")
    [problem] = problems(path)
    assert "keywords.yml:" in problem and "YAML syntax error" in problem


def test_an_empty_file_says_what_it_needs(tmp_path: Path) -> None:
    assert "intents" in problems(write(tmp_path, "# nothing\n"))[0]
