"""Invalid data is refused with problems that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import KnowledgeBaseError, check_knowledge_base, load_knowledge_base
from tests.support.kb_files import line_of, replace_in


def problems_of(data_dir: Path) -> list[str]:
    problems = check_knowledge_base(data_dir)
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(data_dir)
    assert caught.value.problems == problems
    assert str(caught.value) == "\n".join(problems)
    return problems


def where(path: Path, line: int) -> str:
    return f"{path.resolve()}:{line}: "


def test_the_error_is_a_value_error() -> None:
    assert issubclass(KnowledgeBaseError, ValueError)
    error = KnowledgeBaseError(["a.yml:1: x: one", "a.yml:2: y: two"])
    assert error.problems == ["a.yml:1: x: one", "a.yml:2: y: two"]
    assert str(error) == "a.yml:1: x: one\na.yml:2: y: two"


def test_missing_russian_text(data_dir: Path) -> None:
    path = data_dir / "articles" / "conversation.yml"
    replace_in(path, "      ru: Здравствуйте!", "      # ru: Здравствуйте!")
    assert problems_of(data_dir) == [
        where(path, line_of(path, "    text:")) + "articles[0].text: missing Russian text 'ru'"
    ]


def test_unknown_placeholder(data_dir: Path) -> None:
    path = data_dir / "articles" / "roaming.yml"
    replace_in(path, "за границы и в роуминге: {phone_abroad}.", "за границы: {phone_abroda}.")
    [problem] = problems_of(data_dir)
    assert problem.startswith(
        where(path, line_of(path, "{phone_abroda}"))
        + "articles[0].text.ru: unknown placeholder {phone_abroda}; known: "
    )
    assert "phone_abroad" in problem


def test_country_placeholders_need_the_country(data_dir: Path) -> None:
    path = data_dir / "articles" / "roaming.yml"
    replace_in(path, "Как пользоваться роумингом:", "Роуминг в {country}:")
    assert problems_of(data_dir) == [
        where(path, line_of(path, "Роуминг в {country}:"))
        + "articles[0].text.ru: placeholder {country} needs `requires: [country]`"
    ]


def test_malformed_braces(data_dir: Path) -> None:
    path = data_dir / "articles" / "conversation.yml"
    replace_in(path, "en: Goodbye!", "en: Goodbye {!")
    [problem] = problems_of(data_dir)
    assert problem.startswith(where(path, line_of(path, "Goodbye {!")) + "articles[1].text.en: ")


def test_duplicate_article_id(data_dir: Path) -> None:
    path = data_dir / "articles" / "balance.yml"
    first = line_of(path, "id: balance_check")
    replace_in(path, "id: balance_negative", "id: balance_check")
    second = line_of(path, "intent: check_balance_negative") - 1
    assert problems_of(data_dir) == [
        where(path, second) + "articles[1].id: duplicate article id 'balance_check' "
        f"(first at {path.resolve()}:{first})"
    ]


def test_duplicate_article_id_across_files(data_dir: Path) -> None:
    path = data_dir / "articles" / "my_number.yml"
    replace_in(path, "id: my_number", "id: greet")
    [problem] = problems_of(data_dir)
    assert problem.startswith(where(path, line_of(path, "id: greet")) + "articles[0].id: ")
    assert "duplicate article id 'greet'" in problem
    assert "conversation.yml" in problem


def test_unknown_zone(data_dir: Path) -> None:
    path = data_dir / "reference" / "countries.yml"
    replace_in(
        path,
        'names: {ru: "Польша", en: "Poland", be: "Польшча"}\n    zone: europe',
        'names: {ru: "Польша", en: "Poland", be: "Польшча"}\n    zone: eurpoe',
    )
    [problem] = problems_of(data_dir)
    assert problem.startswith(where(path, line_of(path, "zone: eurpoe")))
    assert ": countries[8].zone: unknown zone 'eurpoe'; zones: cis, europe," in problem


def test_bad_yaml_syntax(data_dir: Path) -> None:
    path = data_dir / "reference" / "contacts.yml"
    replace_in(path, 'number: "*7777"', "number: *7777: x")
    [problem] = problems_of(data_dir)
    assert problem.startswith(where(path, line_of(path, "*7777: x")) + "YAML syntax error: ")


def test_unclosed_bracket(data_dir: Path) -> None:
    path = data_dir / "intent_labels.yml"
    replace_in(path, 'deny: {ru: "Нет", en: "No", be: "Не"}', 'deny: {ru: "Нет", en: "No"')
    [problem] = problems_of(data_dir)
    assert str(path.resolve()) in problem and "YAML syntax error" in problem
    assert f"starts on line {line_of(path, 'deny:')}" in problem


def test_unknown_field_suggests_the_right_one(data_dir: Path) -> None:
    path = data_dir / "articles" / "balance.yml"
    replace_in(path, "    buttons:", "    butons:")
    assert problems_of(data_dir) == [
        where(path, line_of(path, "butons:"))
        + "articles[0]: unknown field 'butons' (did you mean 'buttons'?)"
    ]


def test_duplicate_yaml_key(data_dir: Path) -> None:
    path = data_dir / "articles" / "escalation.yml"
    replace_in(path, "    needs_agent: true\n", "    needs_agent: true\n    needs_agent: false\n")
    assert problems_of(data_dir) == [
        where(path, line_of(path, "needs_agent: false"))
        + "articles[0].needs_agent: duplicate key 'needs_agent'"
    ]


def test_wrong_types(data_dir: Path) -> None:
    path = data_dir / "articles" / "escalation.yml"
    replace_in(
        path, "    source: seed\n    needs_agent: true", "    source: seeds\n    needs_agent: 7"
    )
    problems = problems_of(data_dir)
    assert problems[0].startswith(
        where(path, line_of(path, "source: seeds")) + "articles[0].source"
    )
    assert "'seeds'" in problems[0]
    assert problems[1].startswith(where(path, line_of(path, "needs_agent: 7")))


def test_unknown_intent_entity_and_payload(data_dir: Path) -> None:
    path = data_dir / "articles" / "roaming.yml"
    replace_in(path, "    intent: roaming_trouble\n", "    intent: roming_trouble\n")
    replace_in(path, "    requires: [country]", "    requires: [city]")
    replace_in(path, '{"country": "Russia"}', '{"country": "Rusia"}')
    problems = problems_of(data_dir)
    intent = where(path, line_of(path, "roming_trouble")) + "articles[4].intent: unknown intent"
    entity = where(path, line_of(path, "[city]")) + "articles[1].requires[0]: unknown entity"
    country = where(path, line_of(path, '"Rusia"')) + "articles[0].buttons[0].payload: unknown"
    for expected in (country, entity, intent):
        assert any(problem.startswith(expected) for problem in problems), expected
    # The article that now lacks `requires: [country]` gets one problem per text.
    assert len(problems) == 3 + 3


def test_malformed_payload(data_dir: Path) -> None:
    path = data_dir / "articles" / "roaming.yml"
    replace_in(path, """- payload: '/roaming{"country": "Poland"}'""", "- payload: roaming")
    [problem] = problems_of(data_dir)
    assert problem.startswith(where(path, line_of(path, "payload: roaming")))
    assert "articles[0].buttons[1].payload: bad payload 'roaming'" in problem


def test_a_family_without_an_answer(data_dir: Path) -> None:
    (data_dir / "articles" / "my_number.yml").unlink()
    [problem] = problems_of(data_dir)
    assert "intent 'my_number': no article answers it" in problem


def test_a_missing_phrase(data_dir: Path) -> None:
    path = data_dir / "phrases.yml"
    replace_in(path, "  rating_thanks:", "  rating_thanks_typo:")
    assert problems_of(data_dir) == [
        where(path, line_of(path, "phrases:")) + "phrases: missing phrase 'rating_thanks'"
    ]


def test_an_undeclared_phrase_variable(data_dir: Path) -> None:
    path = data_dir / "phrases.yml"
    replace_in(path, "{agent} has joined", "{agnet} has joined")
    [problem] = problems_of(data_dir)
    assert problem.startswith(
        where(path, line_of(path, "{agnet}")) + "phrases.agent_joined.en: unknown placeholder"
    )


def test_a_form_naming_two_countries(data_dir: Path) -> None:
    path = data_dir / "reference" / "countries.yml"
    replace_in(path, 'be: ["Літвы"', 'ru: ["Польша"]\n      be: ["Літвы"')
    problems = problems_of(data_dir)
    assert problems
    assert all(": countries[9]: the form " in p and "also names 'Poland'" in p for p in problems)


def test_several_problems_at_once(data_dir: Path) -> None:
    replace_in(data_dir / "articles" / "balance.yml", "    buttons:", "    butons:")
    replace_in(data_dir / "articles" / "my_number.yml", "    source: example", "    source: 3")
    assert len(problems_of(data_dir)) == 2


def test_a_missing_file(data_dir: Path) -> None:
    (data_dir / "phrases.yml").unlink()
    [problem] = problems_of(data_dir)
    assert problem.endswith("phrases.yml: the file is missing")


def test_the_example_format(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths are shown relative to the working directory when the data is below it."""
    monkeypatch.chdir(data_dir.parent)
    path = data_dir / "articles" / "roaming.yml"
    replace_in(path, "      ru: |\n        Цены в роуминге зависят", "      ro: |\n        Цены")
    problems = check_knowledge_base(Path("data"))
    line = line_of(path, "      ro: |") - 1
    assert f"data/articles/roaming.yml:{line}: articles[2].text: missing Russian text 'ru'" in (
        problems
    )


def test_country_names_need_all_three_languages(data_dir: Path) -> None:
    path = data_dir / "reference" / "countries.yml"
    replace_in(path, 'en: "Lithuania", be: "Літва"}', 'en: "Lithuania"}')
    assert problems_of(data_dir) == [
        where(path, line_of(path, 'en: "Lithuania"}'))
        + "countries[9].names: missing Belarusian text 'be'"
    ]


def test_seed_articles_may_not_use_example_prices(data_dir: Path) -> None:
    path = data_dir / "articles" / "roaming.yml"
    replace_in(
        path,
        "    requires: [country]\n    source: example",
        "    requires: [country]\n    source: seed",
    )
    problems = problems_of(data_dir)
    assert problems[0].startswith(where(path, line_of(path, "(зона «{zone}»). Цены:")))
    assert problems[0].endswith("placeholder {zone} is example data but the source is 'seed'")
