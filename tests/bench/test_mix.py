"""The benchmark's message mix: loading errors name the file; unique texts never repeat, never
hold 5+ digits in a row and are never a text of the mix (so no NLU cache can answer them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.mix import (
    MIX_FILE,
    MixError,
    UniqueTexts,
    counter_words,
    load_mix,
    repeated_texts,
    uniquify,
)
from nlu.cache import ParseCache, normalise_text


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mix.yml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_mix_loads_with_all_three_languages() -> None:
    mix = load_mix()
    assert {t.lang for t in mix} == {"ru", "be", "en"}
    assert all(t.weight > 0 for t in mix)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("texts: [{text: баланс, lang: ru, weight: 0}]", "texts[0] ('баланс'): `weight`"),
        ("texts: [{text: баланс, lang: de, weight: 1}]", "`lang` must be one of"),
        ("texts: [{text: '', lang: ru, weight: 1}]", "texts[0]: `text`"),
        ("texts: [{text: 'номер 297770890', lang: ru, weight: 1}]", "five digits or more"),
        (
            "texts: [{text: баланс, lang: ru, weight: 1}, {text: 'Баланс!', lang: ru, weight: 2}]",
            "texts[1] ('Баланс!'): the same text as texts[0]",
        ),
        ("texts: [{text: баланс, lang: ru, weight: 1, wieght: 2}]", "unknown field(s) wieght"),
        ("texts: []", "non-empty list"),
        ("texts: [baланс", "not valid YAML"),
    ],
)
def test_a_malformed_mix_names_the_file_and_the_entry(
    tmp_path: Path, body: str, says: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(MixError) as caught:
        load_mix(path)
    assert str(path) in str(caught.value)
    assert says in str(caught.value)


def test_a_missing_mix_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MixError, match=re.escape(str(tmp_path / "nope.yml"))):
        load_mix(tmp_path / "nope.yml")


def test_repeated_texts_come_from_the_mix_by_weight_and_repeat_with_the_seed(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "texts: [{text: баланс, lang: ru, weight: 9}, {text: привет, lang: ru, weight: 1}]",
    )
    mix = load_mix(path)
    texts = repeated_texts(mix, 2000, seed=1)
    assert set(texts) == {"баланс", "привет"}
    assert texts.count("баланс") > texts.count("привет")
    assert repeated_texts(mix, 2000, seed=1) == texts


def test_counter_words_give_every_number_its_own_sequence() -> None:
    sequences = {tuple(counter_words(n, (3, 2))) for n in range(1, 5000)}
    assert len(sequences) == 4999
    assert all(sequences)
    with pytest.raises(ValueError):
        counter_words(0, (3, 2))


def test_unique_texts_never_repeat_never_hold_long_numbers_and_never_equal_the_mix() -> None:
    mix = load_mix(MIX_FILE)
    texts = UniqueTexts(mix, seed=3).take(30_000)
    keys = [normalise_text(t) for t in texts]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {normalise_text(t.text) for t in mix}
    assert not [t for t in texts if re.search(r"[0-9]{5,}", t) or not ParseCache.keeps(t)]
    # the same seed gives the same texts, so both stacks get the same messages
    assert UniqueTexts(mix, seed=3).take(100) == texts[:100]


def test_a_unique_text_keeps_the_question_and_its_punctuation() -> None:
    text = uniquify("Какой у меня баланс?", "ru", 1 + 15 * 3)
    assert "какой у меня баланс" in text
    assert text.endswith("?")
    assert text != "Какой у меня баланс?"
