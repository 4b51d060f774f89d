from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nlu import NluClient, NluUnavailable, evaluate, load_eval_file
from nlu.evaluation import (
    EvalReport,
    EvalRow,
    Prediction,
    build_report,
    gold_label,
    predicted_label,
)
from nlu.normalize import normalize
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


# -- the form column, confusions, families per language (issue #17) ---------------------------

FORMS_TSV = """\
# the project's real-world set is written like this
lang\tintent\ttext\tform
ru\tmy_number\tkakoy u menya nomer\ttranslit
ru\troaming\troaming v Gruzii ne rabotaet\ttranslit
ru\tcheck_balance\tkak proverit balans\ttranslit
ru\tcheck_balance\tскока денег на симке\tslang
be\tcheck_balance\tколькі грошай на балансе\ttidy
be\tmy_number\tякі ў мяне нумар\ttidy
en\tcheck_balance\tbalance pls\tshort
"""

FORMS_PREDICT = {
    "kakoy u menya nomer": "nlu_fallback",
    "roaming v Gruzii ne rabotaet": "nlu_fallback",
    "kak proverit balans": "check_balance",
    "скока денег на симке": "roaming_prices",
    "колькі грошай на балансе": "check_balance",
    "які ў мяне нумар": "check_balance",
    "balance pls": "check_balance",
}


def _forms_report(tmp_path: Path) -> EvalReport:
    path = tmp_path / "real.tsv"
    path.write_text(FORMS_TSV, encoding="utf-8")
    rows = load_eval_file(path)
    return build_report([Prediction(r, FORMS_PREDICT[r.text], 0.5) for r in rows])


def test_a_form_column_is_read_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "real.tsv"
    path.write_text(FORMS_TSV, encoding="utf-8")
    rows = load_eval_file(path)
    assert rows[0] == EvalRow("ru", "my_number", "kakoy u menya nomer", "translit")
    assert rows[0].line == 3 and rows[-1].line == 9
    assert [r.form for r in rows].count("tidy") == 2


def test_without_a_header_the_fourth_column_is_the_form(tmp_path: Path) -> None:
    path = tmp_path / "bare.tsv"
    path.write_text("ru\tgreet\tпрывет\tTrasyanka\nen\tgreet\thi\n", encoding="utf-8")
    assert [r.form for r in load_eval_file(path)] == ["trasyanka", ""]


def test_a_source_column_is_not_a_form(tsv: Path, tmp_path: Path) -> None:
    path = tmp_path / "public.tsv"
    path.write_text("lang\tintent\ttext\tsource\nen\tgreet\thi\tclinc/oos-eval:greeting\n")
    assert load_eval_file(path)[0].form == ""
    assert {r.form for r in load_eval_file(tsv)} == {""}  # its 4th column is a "note"


def test_an_unknown_form_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("lang\tintent\ttext\tform\nru\tgreet\tпривет\tshort\nru\tgreet\tку\tleet\n")
    with pytest.raises(ValueError, match="bad.tsv:3: unknown form 'leet'"):
        load_eval_file(path)


def test_accuracy_per_form_and_per_language_and_form(tmp_path: Path) -> None:
    report = _forms_report(tmp_path)
    forms = {(m.lang, m.form): (m.correct, m.support) for m in report.per_form}
    assert forms[("all", "translit")] == (1, 3)
    assert forms[("ru", "translit")] == (1, 3)
    assert forms[("ru", "slang")] == (0, 1)
    assert forms[("be", "tidy")] == (1, 2)
    assert ("be", "translit") not in forms  # no empty buckets
    assert [m.lang for m in report.per_form][:4] == ["all"] * 4  # then ru, en, be
    text = report.format()
    assert "By form" in text and "ru    translit         3   33.3%  (1/3)" in text
    data = report.to_dict()["per_form"]
    assert {"lang": "ru", "form": "translit", "support": 3, "accuracy": 1 / 3} in data


def test_confusion_pairs_are_counted_with_one_example(tmp_path: Path) -> None:
    report = _forms_report(tmp_path)
    pairs = [(c.gold, c.predicted, c.count, c.example) for c in report.confusions]
    # all once: ties are in alphabetical order of (gold, predicted)
    assert pairs == [
        ("check_balance", "roaming", 1, "скока денег на симке"),
        ("my_number", "check_balance", 1, "які ў мяне нумар"),
        ("my_number", "out_of_scope", 1, "kakoy u menya nomer"),
        ("roaming", "out_of_scope", 1, "roaming v Gruzii ne rabotaet"),
    ]


def test_confusions_are_most_frequent_first() -> None:
    rows = [EvalRow("ru", "check_balance", f"баланс {i}") for i in range(3)]
    rows += [EvalRow("en", "roaming", "roaming"), EvalRow("en", "roaming", "abroad")]
    preds = [Prediction(r, "greet", 0.9) for r in rows[:3]]
    preds += [Prediction(r, "nlu_fallback", 0.3) for r in rows[3:]]
    report = build_report(preds)
    assert [(c.gold, c.predicted, c.count, c.example, c.example_lang) for c in report.confusions] == [
        ("check_balance", "smalltalk", 3, "баланс 0", "ru"),
        ("roaming", "out_of_scope", 2, "roaming", "en"),
    ]
    lines = report.format().splitlines()
    start = lines.index("Top confusions (2 of 2 pairs)")
    assert lines[start + 2].split() == ["check_balance", "smalltalk", "3", "[ru]", "баланс", "0"]
    assert report.to_dict()["confusions"][1]["count"] == 2


def test_families_are_scored_per_language(tmp_path: Path) -> None:
    report = _forms_report(tmp_path)
    per_lang = {lang: {m.label: m for m in metrics} for lang, metrics in report.per_language_family}
    assert list(per_lang) == ["ru", "en", "be"]
    be = per_lang["be"]
    assert (be["check_balance"].precision, be["check_balance"].recall) == (0.5, 1.0)
    assert (be["my_number"].recall, be["my_number"].support) == (0.0, 1)
    ru = per_lang["ru"]
    assert (ru["check_balance"].precision, ru["check_balance"].recall) == (1.0, 0.5)
    assert ru["out_of_scope"].predicted == 2 and ru["out_of_scope"].support == 0
    assert "By language and family" in report.format()
    assert report.to_dict()["per_language_family"]["be"]["check_balance"]["f1"] == pytest.approx(2 / 3)


# -- `abonent nlu eval FILE...`: one server for several files --------------------------------


def test_nlu_eval_runs_every_file_and_names_the_missing_and_the_malformed(
    rasa: FakeRasa,
    tsv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.config import get_settings
    from bot.nlu_commands import _eval
    from tests.support.fake_rasa import FAKE_RASA_TOKEN

    real = tmp_path / "real.tsv"
    real.write_text(FORMS_TSV, encoding="utf-8")
    bad = tmp_path / "bad.tsv"
    bad.write_text("lang\tintent\ttext\nxx\tgreet\thi\n", encoding="utf-8")
    # Rasa sees the text as the client normalises it (transliteration in Cyrillic)
    answers = {normalize(text).text_for_nlu: intent
               for text, intent in (PREDICT | FORMS_PREDICT).items()}
    rasa.responder = lambda text: FakeAnswer(answers[text], 0.8)
    monkeypatch.setenv("RASA_URL", rasa.url)
    monkeypatch.setenv("RASA_TOKEN", FAKE_RASA_TOKEN)
    get_settings.cache_clear()
    out_json = tmp_path / "report.json"
    try:
        status = _eval(argparse.Namespace(
            files=[tsv, tmp_path / "missing.tsv", bad, real], json=out_json
        ))
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert status == 2
    assert f"{tmp_path / 'missing.tsv'} does not exist: skipped" in err
    assert f"{bad}:2: unknown language 'xx'" in err
    assert out.index(f"=== Intents: {tsv} ===") < out.index(f"=== Intents: {real} ===")
    assert "Traceback" not in out + err
    assert rasa.count("/model/parse") == 8 + 7
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(data) == {str(tsv), str(real)} and data[str(real)]["total"] == 7
