"""The sentiment classifier: its training file, determinism, obvious cases, no false alarms on
calm problem reports, and the evaluation's arithmetic on a hand-made file."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.sentiment import Label, analyse, analyse_many, label_for
from handoff.sentiment_eval import evaluate, lexicon_predictor
from handoff.sentiment_model import (
    STRONG_THRESHOLD,
    TRAIN_FILE,
    TUNE_PRECISION,
    DataError,
    choose_threshold,
    get_model,
    load_examples,
    parse_examples,
    train,
)
from scripts.eval_sentiment import main as eval_main

HEADER = "lang\tlabel\tstrong\ttext\n"


def test_the_training_file_validates_and_covers_every_language_and_label() -> None:
    examples = load_examples(TRAIN_FILE)
    assert len(examples) >= 900
    kinds = {(e.lang, e.label, e.strong) for e in examples}
    for lang in ("ru", "be", "en"):
        for kind in (("negative", True), ("negative", False), ("neutral", False),
                     ("positive", False)):
            assert (lang, *kind) in kinds


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("xx\tneutral\t0\thello\n", "language 'xx'"),
        ("ru\tangry\t0\tпривет\n", "label 'angry'"),
        ("ru\tneutral\t1\tпривет\n", "strong 1 needs the label negative"),
        ("ru\tneutral\tyes\tпривет\n", "strong must be 0 or 1"),
        ("ru\tneutral\t0\n", "3 columns"),
        ("ru\tneutral\t0\t \n", "empty text"),
    ],
)
def test_a_broken_file_names_file_and_line(tmp_path: Path, line: str, complaint: str) -> None:
    path = tmp_path / "broken.tsv"
    path.write_text("# a comment\n" + HEADER + "en\tpositive\t0\tthanks\n" + line,
                    encoding="utf-8")
    with pytest.raises(DataError, match=f"broken.tsv:4: {complaint}"):
        load_examples(path)


def test_a_header_without_a_column_is_refused() -> None:
    with pytest.raises(DataError, match="src:1: the header lacks strong"):
        parse_examples(["lang\tlabel\ttext\n"], "src")


def test_training_is_deterministic() -> None:
    examples = load_examples()[::3]
    texts = ["вы меня достали!!!", "kak proverit balans", "дзякуй вялікі", "meh"]
    first, second = train(examples).predict(texts), train(examples).predict(texts)
    assert first == second


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("какой у меня баланс", Label.NEUTRAL),
        ("kak proverit balans", Label.NEUTRAL),
        ("спасибо большое, всё заработало", Label.POSITIVE),
        ("вы воры и мошенники, верните деньги!!!", Label.STRONGLY_NEGATIVE),
        ("як праверыць баланс", Label.NEUTRAL),
        ("дзякуй, усё выдатна", Label.POSITIVE),
        ("вы махляры, ненавіджу!!!", Label.STRONGLY_NEGATIVE),
        ("how do I check my balance", Label.NEUTRAL),
        ("thank you, that really helped", Label.POSITIVE),
        ("you are thieves, I'm switching operators!!!", Label.STRONGLY_NEGATIVE),
    ],
)
def test_obvious_cases_in_each_language(text: str, label: str) -> None:
    result = analyse(text)
    assert result.label == label, result
    assert label_for(result.score) == label  # callers map the score back to the label


@pytest.mark.parametrize(
    "text",
    [
        "у меня третий день не работает интернет, подскажите что делать",
        "ne rabotaet internet v roaminge",
        "не працуе інтэрнэт у роўмінгу, што рабіць?",
        "my calls keep dropping, could you check the network?",
        "списали деньги, не понимаю за что, проверьте пожалуйста",
        "I was charged twice this month, please look into it",
    ],
)
def test_calm_problem_reports_are_not_strongly_negative(text: str) -> None:
    assert not analyse(text).strongly_negative


def test_the_score_deepens_with_anger_for_the_monitor_trend() -> None:
    assert analyse("ВЫ ВОРЫ!!! ВЕРНИТЕ ДЕНЬГИ!!!").score <= -4
    assert analyse("какой у меня баланс").score > -2
    assert analyse("спасибо!").score >= 2


def test_the_model_is_cached_per_process() -> None:
    assert get_model() is get_model()


def test_the_evaluation_counts_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "tiny.tsv"
    # By the lexicon: "мошенники, ненавижу" is strong (right), "ужасно" negative, not
    # strong (a missed strong one), "какой баланс" neutral (right), "спасибо" positive (right),
    # "вы идиоты" strong though labelled plain negative (a false alarm).
    path.write_text(
        "lang\tlabel\tstrong\ttext\tform\n"
        "ru\tnegative\t1\tмошенники, ненавижу\ttidy\n"
        "ru\tnegative\t1\tужасно\ttidy\n"
        "ru\tneutral\t0\tкакой баланс\ttidy\n"
        "en\tpositive\t0\tthank you\tshort\n"
        "ru\tnegative\t0\tвы идиоты\tslang\n",
        encoding="utf-8",
    )
    groups = evaluate(load_examples(path), lexicon_predictor)
    whole = groups["all"]
    assert whole.total == 5
    assert whole.accuracy == 1.0  # every mood right: the strong errors are counted apart
    assert (whole.strong["tp"], whole.strong["fp"], whole.strong["fn"]) == (1, 1, 1)
    assert whole.strong_precision == 0.5
    assert whole.strong_recall == 0.5
    assert whole.precision("negative") == 1.0
    assert whole.recall("neutral") == 1.0
    assert groups["en"].total == 1
    assert groups["form slang"].strong_precision == 0.0
    assert groups["form short"].strong_precision is None  # nothing flagged: no precision


def test_the_eval_script_prints_figures_and_refuses_a_bad_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.tsv"
    good.write_text(HEADER + "ru\tnegative\t1\tмошенники, ненавижу!!!\n"
                    "en\tneutral\t0\tkak proverit balans\n", encoding="utf-8")
    assert eval_main([str(good)]) == 0
    out = capsys.readouterr().out
    assert "== lexicon" in out and "== classifier" in out and "best (" in out
    bad = tmp_path / "bad.tsv"
    bad.write_text(HEADER + "ru\tnegative\t2\tx\n", encoding="utf-8")
    assert eval_main([str(bad)]) == 2
    assert "bad.tsv:2: strong must be 0 or 1" in capsys.readouterr().err


def test_the_strong_threshold_is_the_cross_validated_choice() -> None:
    """A changed training file needs `scripts/eval_sentiment.py --tune` and the new constant."""
    threshold, precision, _ = choose_threshold(load_examples())
    assert threshold == STRONG_THRESHOLD
    assert precision >= TUNE_PRECISION


def test_a_batch_is_scored_as_each_message_alone() -> None:
    texts = ["Спасибо, всё работает!", "вы меня достали, верните деньги!!!", "", "баланс",
             "zadolbali uzhe", "Спасибо, всё работает!", "   "]
    assert analyse_many(texts) == [analyse(text) for text in texts]
