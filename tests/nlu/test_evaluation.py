from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nlu import NluClient, NluUnavailable, evaluate, load_eval_file
from nlu.evaluation import EvalRow, Prediction, build_report, gold_label, predicted_label
from tests.support.fake_rasa import FakeAnswer, FakeRasa

TSV = """\
lang\tintent\ttext\tnote
ru\tcheck_balance\tкакой у меня баланс

ru\tcheck_balance\tсколько денег\tgold is balance
ru\tgreet\tпривет
be\tthanks\tдзякуй
be\troaming\tроўмінг у Польшчы
en\tout_of_scope\twhat's the weather
en\tout_of_scope\tsing me a song
en\thuman_request\ttalk to a human
"""

PREDICT = {
    "какой у меня баланс": "check_balance",
    "сколько денег": "roaming",
    "привет": "greet",
    "дзякуй": "thanks",
    "роўмінг у Польшчы": "roaming_activate",
    "what's the weather": "nlu_fallback",
    "sing me a song": "greet",
    "talk to a human": "human_request",
}


@pytest.fixture
def tsv(tmp_path: Path) -> Path:
    path = tmp_path / "eval.tsv"
    path.write_text(TSV, encoding="utf-8")
    return path


def test_load_skips_header_and_blank_lines_and_extra_columns(tsv: Path) -> None:
    rows = load_eval_file(tsv)
    assert len(rows) == 8
    assert rows[0] == EvalRow("ru", "check_balance", "какой у меня баланс")
    assert rows[1].text == "сколько денег"


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("ru\tcheck_balance", "expected lang<TAB>intent<TAB>text"),
        ("ru\t\tбаланс", "expected lang<TAB>intent<TAB>text"),
        ("ru check_balance баланс", "expected lang<TAB>intent<TAB>text"),
        ("de\tcheck_balance\tKontostand", "unknown language 'de'"),
        ("ru\tbalance\tбаланс", "unknown intent 'balance'"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, complaint: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(f"lang\tintent\ttext\n\nru\tgreet\tпривет\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"bad.tsv:4: {complaint}"):
        load_eval_file(path)


@pytest.mark.parametrize(
    ("intent", "label"),
    [
        ("greet", "smalltalk"),
        ("goodbye", "smalltalk"),
        ("thanks_a_lot", "smalltalk"),
        ("nlu_fallback", "out_of_scope"),
        ("roaming_activate", "roaming"),
        ("affirm", "affirm"),
    ],
)
def test_predicted_label(intent: str, label: str) -> None:
    assert predicted_label(intent) == label


def test_gold_label() -> None:
    assert gold_label("thanks") == "smalltalk" and gold_label("smalltalk") == "smalltalk"
    assert gold_label("deny") == "deny"


async def test_evaluate_against_the_server(
    rasa: FakeRasa, make_client: Callable[..., NluClient], tsv: Path
) -> None:
    rasa.responder = lambda text: FakeAnswer(PREDICT[text], 0.8)
    report = await evaluate(make_client(), load_eval_file(tsv), concurrency=3)
    assert rasa.count("/model/parse") == 8
    assert (report.total, report.correct) == (8, 6)
    assert report.accuracy == pytest.approx(0.75)
    assert report.in_scope_accuracy == pytest.approx(5 / 6)
    assert report.oos_recall == pytest.approx(0.5)
    assert report.model_id == "model-1"

    fam = {m.label: m for m in report.per_family}
    assert (fam["check_balance"].precision, fam["check_balance"].recall) == (1.0, 0.5)
    assert fam["check_balance"].f1 == pytest.approx(2 / 3)
    assert (fam["roaming"].precision, fam["roaming"].recall) == (0.5, 1.0)
    assert fam["smalltalk"].precision == pytest.approx(2 / 3)
    assert fam["smalltalk"].f1 == pytest.approx(0.8)
    assert (fam["smalltalk"].support, fam["smalltalk"].predicted) == (2, 3)
    assert (fam["out_of_scope"].precision, fam["out_of_scope"].recall) == (1.0, 0.5)
    assert fam["human_request"].f1 == 1.0
    expected_macro = (2 / 3 + 2 / 3 + 0.8 + 2 / 3 + 1.0) / 5
    assert report.macro_f1 == pytest.approx(expected_macro)

    lang = {m.lang: m for m in report.per_language}
    assert [m.lang for m in report.per_language] == ["ru", "en", "be"]  # nlu.languages order
    assert lang["ru"].accuracy == pytest.approx(2 / 3) and lang["ru"].oos_recall is None
    assert lang["be"].accuracy == 1.0 and lang["be"].f1 == 1.0
    assert (lang["en"].in_scope_accuracy, lang["en"].oos_recall) == (1.0, 0.5)

    wrong = {(e.text, e.gold, e.predicted) for e in report.errors}
    assert wrong == {
        ("сколько денег", "check_balance", "roaming"),
        ("sing me a song", "out_of_scope", "smalltalk"),
    }

    text = report.format()
    lines = text.splitlines()
    assert lines.index("By language") < lines.index("By family") < lines.index("Totals")
    assert "Errors (2 of 2)" in text and "75.0%" in text and "sing me a song" in text

    data = json.loads(json.dumps(report.to_dict()))
    assert data["accuracy"] == 0.75 and data["per_family"]["roaming"]["support"] == 1
    assert data["per_language"]["ru"]["oos_recall"] is None and len(data["errors"]) == 2


def test_format_shows_at_most_30_errors() -> None:
    rows = [EvalRow("ru", "check_balance", f"текст {i}") for i in range(40)]
    report = build_report([Prediction(r, "greet", 0.9) for r in rows])
    text = report.format()
    assert "Errors (30 of 40)" in text
    assert text.count("check_balance -> smalltalk") == 30
    assert report.in_scope_accuracy == 0.0 and report.oos_recall is None


def test_an_empty_report_is_well_defined() -> None:
    report = build_report([])
    assert (report.total, report.accuracy, report.macro_f1) == (0, 0.0, 0.0)
    assert "0 texts" in report.format()


async def test_nlu_errors_propagate(rasa: FakeRasa, make_client: Callable[..., NluClient]) -> None:
    rasa.fail_next(1000, 500, path="/model/parse")
    rows = [EvalRow("ru", "greet", f"привет {i}") for i in range(10)]
    with pytest.raises(NluUnavailable):
        await evaluate(make_client(retries=0), rows, concurrency=4)
