"""Guards on the evaluation sets in nlu/eval/: they parse, they are as large as issue #17 asks, and
none of their texts is in the training data (a score on trained sentences measures nothing)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlu.evaluation import FORMS, EvalRow, load_eval_file
from nlu.languages import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "nlu" / "eval"
TRAINING_DIR = ROOT / "nlu" / "data"
PUBLIC = EVAL_DIR / "public_heldout.tsv"
REAL_WORLD = EVAL_DIR / "real_world.tsv"
SENTIMENT = EVAL_DIR / "sentiment.tsv"
INTENT_SETS = (PUBLIC, REAL_WORLD)
SENTIMENT_TRAINING = ROOT / "handoff" / "data" / "sentiment_train.tsv"

# Issue #17's minimums for the project's own sets.
REAL_WORLD_MIN = 300
SENTIMENT_MIN = 300
# One- and two-word messages ("да", "нет спасибо", "ok bye") are how everybody says them: finding
# them in the training data is no sign of copying, and they are exempt from the leak check.
MIN_WORDS_FOR_LEAK_CHECK = 3

_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # [Польшу](country) -> Польшу
_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lower case; every run of spaces and punctuation becomes one space."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def _require(path: Path) -> None:
    # the sets ship with the repository: a missing one is a failure, never a skip
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: make eval needs it"


def training_examples() -> dict[str, str]:
    """Normalised text -> ``file:intent`` for every intent example of nlu/data/*.yml."""
    out: dict[str, str] = {}
    for path in sorted(TRAINING_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in doc.get("nlu") or ():
            if "intent" not in block:  # regexes, lookups, synonyms are not sentences
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip().removeprefix("- ").strip()
                if text:
                    out.setdefault(normalise(_ANNOTATION.sub(r"\1", text)), f"{path.name}:{block['intent']}")
    return out


def leaks(rows: list[tuple[str, str]], training: dict[str, str]) -> list[str]:
    """``where: text (in file:intent)`` for each checked evaluation text found in training."""
    found = []
    for where, text in rows:
        key = normalise(text)
        if len(key.split()) >= MIN_WORDS_FOR_LEAK_CHECK and key in training:
            found.append(f"{where}: {text!r} (in {training[key]})")
    return found


def load_sentiment(path: Path) -> list[tuple[int, str, str, str, str]]:
    """(line, lang, label, strong, text) of each row; header ``lang label strong text form``."""
    rows: list[tuple[int, str, str, str, str]] = []
    columns: list[str] | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [x.strip() for x in raw.split("\t")]
        where = f"{path}:{lineno}"
        if columns is None:
            columns = [x.lower() for x in fields]
            missing = {"lang", "label", "strong", "text"} - set(columns)
            assert not missing, f"{where}: the header lacks {sorted(missing)}"
            continue
        row = dict(zip(columns, fields, strict=False))
        assert row.get("lang") in LANGUAGES, f"{where}: unknown language {row.get('lang')!r}"
        assert row.get("label") in {"negative", "neutral", "positive"}, f"{where}: bad label"
        assert row.get("strong") in {"0", "1"}, f"{where}: strong must be 0 or 1"
        assert row["strong"] == "0" or row["label"] == "negative", f"{where}: strong but not negative"
        assert row.get("text"), f"{where}: empty text"
        assert not row.get("form") or row["form"] in FORMS, f"{where}: unknown form {row['form']!r}"
        rows.append((lineno, row["lang"], row["label"], row["strong"], row["text"]))
    return rows


# -- the sets parse and are large enough ------------------------------------------------------


def test_the_public_set_parses_and_covers_its_documented_counts() -> None:
    rows = load_eval_file(PUBLIC)
    assert Counter(r.lang for r in rows) == {"en": 421, "ru": 164}
    assert not any(r.form for r in rows), "its 4th column is the source, not a form"


def test_the_real_world_set_is_large_enough_in_every_language() -> None:
    _require(REAL_WORLD)
    rows = load_eval_file(REAL_WORLD)
    per_lang = Counter(r.lang for r in rows)
    assert len(rows) >= REAL_WORLD_MIN, per_lang
    assert all(per_lang[lang] for lang in ("ru", "be", "en")), per_lang
    assert all(r.form for r in rows), "every real-world message says how it is written"
    assert sum(r.lang == "ru" and r.form == "translit" for r in rows), "no transliterated Russian"


def test_the_sentiment_set_is_large_enough() -> None:
    _require(SENTIMENT)
    rows = load_sentiment(SENTIMENT)
    assert len(rows) >= SENTIMENT_MIN
    assert {lang for _, lang, *_ in rows} == set(LANGUAGES)
    assert any(strong == "1" for *_, strong, _ in rows), "no strongly negative message"


# -- nothing of them is trained on -------------------------------------------------------------


def _intent_rows(path: Path) -> list[tuple[str, str]]:
    return [(f"{path.name}:{r.line}", r.text) for r in load_eval_file(path)]


@pytest.mark.parametrize("path", INTENT_SETS, ids=lambda p: p.name)
def test_no_intent_evaluation_text_is_in_the_nlu_training_data(path: Path) -> None:
    _require(path)
    found = leaks(_intent_rows(path), training_examples())
    assert not found, "evaluation texts in nlu/data (remove them from training):\n" + "\n".join(
        found
    )


def test_no_sentiment_evaluation_text_is_in_the_sentiment_training_data() -> None:
    """The sentiment set measures handoff/sentiment.py, which learns from its own file, not from
    nlu/data: that file is the one it must not share texts with."""
    _require(SENTIMENT)
    _require(SENTIMENT_TRAINING)
    training = {
        normalise(text): f"{SENTIMENT_TRAINING.name}:{line}"
        for line, *_, text in load_sentiment(SENTIMENT_TRAINING)
    }
    rows = [(f"{SENTIMENT.name}:{line}", text) for line, *_, text in load_sentiment(SENTIMENT)]
    found = leaks(rows, training)
    assert not found, "evaluation texts in the sentiment training data:\n" + "\n".join(found)


def test_the_leak_check_catches_a_copied_sentence_despite_case_spaces_and_punctuation() -> None:
    training = {
        normalise("Сколько денег у меня  осталось на счету?"): "check_balance.yml:check_balance",
        normalise("да"): "chitchat.yml:affirm",
    }
    rows = [
        ("x.tsv:2", "сколько денег у меня осталось на счету"),
        ("x.tsv:3", "да"),  # too short to tell a copy from the usual way to say it
        ("x.tsv:4", "сколько денег осталось"),
    ]
    assert leaks(rows, training) == [
        "x.tsv:2: 'сколько денег у меня осталось на счету' (in check_balance.yml:check_balance)"
    ]


def test_training_examples_are_read_without_entity_annotations() -> None:
    examples = training_examples()
    assert len(examples) > 1000
    assert all("](" not in text and "[" not in text for text in examples)


def test_rows_of_a_set_are_what_the_loader_reads(tmp_path: Path) -> None:
    path = tmp_path / "set.tsv"
    path.write_text(
        "# a comment\nlang\tintent\ttext\tform\nru\tcheck_balance\tkakoy u menya balans\ttranslit\n",
        encoding="utf-8",
    )
    assert load_eval_file(path) == [
        EvalRow("ru", "check_balance", "kakoy u menya balans", "translit")
    ]
    assert _intent_rows(path) == [("set.tsv:3", "kakoy u menya balans")]


def test_the_sentiment_loader_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    path.write_text(
        "lang\tlabel\tstrong\ttext\tform\nru\tneutral\t1\tинтернет не работает\ttidy\n",
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match="s.tsv:2: strong but not negative"):
        load_sentiment(path)
