"""Scoring the NLU the way the bot uses it, on a held-out TSV of real-looking messages.

The file is ``lang<TAB>intent<TAB>text[<TAB>anything...]``: a header line whose first field is
``lang``, blank lines and ``#`` comments are skipped; anything else malformed raises ValueError
naming ``file:line``. A column headed ``form`` (``translit``, ``trasyanka``, ``slang``...: see
:data:`FORMS`) is the way the message is written; the report then gives accuracy per form and per
language x form. Without a header the 4th column is the form; other headed columns (the public
set's ``source``) are ignored. Gold labels are families (``check_balance``, ``my_number``, ``roaming``,
``support_contacts``, ``human_request``, ``complaint``, ``smalltalk``, ``out_of_scope``;
``greet``/``goodbye``/``thanks``/``affirm``/``deny`` are accepted too).

A prediction is scored as the bot acts on it: the intent's family (:func:`nlu.results.intent_family`);
greet/goodbye/thanks are all ``smalltalk``; ``nlu_fallback`` counts as ``out_of_scope`` (the bot
does not answer it with an article).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.client import NluClient
from nlu.languages import LANGUAGES
from nlu.results import FALLBACK_INTENT, FAMILIES, intent_family

__all__ = [
    "FORMS",
    "GOLD_LABELS",
    "ClassMetrics",
    "Confusion",
    "EvalError",
    "EvalReport",
    "EvalRow",
    "FormMetrics",
    "LangMetrics",
    "Prediction",
    "build_report",
    "evaluate",
    "gold_label",
    "load_eval_file",
    "predicted_label",
]

SMALLTALK = "smalltalk"
OUT_OF_SCOPE = "out_of_scope"
_SMALLTALK_FAMILIES = frozenset({"greet", "goodbye", "thanks"})
GOLD_LABELS: frozenset[str] = frozenset(FAMILIES) | {SMALLTALK}
MAX_ERRORS_SHOWN = 30
MAX_CONFUSIONS_SHOWN = 15
# How a message is written (the project's real-world and sentiment sets): a closed list, so a typo
# in a data file is an error naming its line, not a new bucket of one.
FORMS: frozenset[str] = frozenset(
    {"tidy", "slang", "translit", "trasyanka", "long", "typo", "short", "emoji"}
)


def gold_label(label: str) -> str:
    """The scoring label of a gold annotation (greet/goodbye/thanks -> smalltalk)."""
    return SMALLTALK if label in _SMALLTALK_FAMILIES else label


def predicted_label(intent: str) -> str:
    """The scoring label of a predicted intent: its family, smalltalk merged, fallback = OOS."""
    if intent == FALLBACK_INTENT:
        return OUT_OF_SCOPE
    return gold_label(intent_family(intent))


@dataclass(frozen=True, slots=True)
class EvalRow:
    lang: str
    intent: str
    text: str
    form: str = ""  # empty when the file has no form column
    line: int = field(default=0, compare=False)  # where it is in its file, for messages


def load_eval_file(path: str | Path) -> list[EvalRow]:
    """Read an evaluation TSV (see the module doc). Raises ValueError naming ``file:line``."""
    path = Path(path)
    rows: list[EvalRow] = []
    form_column: int | None = 3  # until a header says otherwise
    with path.open(encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [x.strip() for x in line.split("\t")]
            if fields[0].lower() == "lang":
                names = [x.lower() for x in fields]
                form_column = names.index("form") if "form" in names else None
                continue
            where = f"{path}:{lineno}"
            if len(fields) < 3 or not all(fields[:3]):
                raise ValueError(f"{where}: expected lang<TAB>intent<TAB>text, got {line!r}")
            lang, intent, text = fields[:3]
            if lang not in LANGUAGES:
                raise ValueError(
                    f"{where}: unknown language {lang!r} (expected one of {LANGUAGES})"
                )
            if intent not in GOLD_LABELS:
                known = ", ".join(sorted(GOLD_LABELS))
                raise ValueError(f"{where}: unknown intent {intent!r} (expected one of: {known})")
            form = _form(fields, form_column, where)
            rows.append(EvalRow(lang=lang, intent=intent, text=text, form=form, line=lineno))
    return rows


def _form(fields: Sequence[str], column: int | None, where: str) -> str:
    if column is None or column >= len(fields) or not fields[column]:
        return ""
    form = fields[column].lower()
    if form not in FORMS:
        known = ", ".join(sorted(FORMS))
        raise ValueError(f"{where}: unknown form {fields[column]!r} (expected one of: {known})")
    return form


@dataclass(frozen=True, slots=True)
class Prediction:
    row: EvalRow
    intent: str
    confidence: float

    @property
    def gold(self) -> str:
        return gold_label(self.row.intent)

    @property
    def predicted(self) -> str:
        return predicted_label(self.intent)

    @property
    def correct(self) -> bool:
        return self.gold == self.predicted


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class LangMetrics:
    """One language's scores; precision/recall/f1 are macro averages over its gold labels."""

    lang: str
    support: int
    accuracy: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class EvalError:
    lang: str
    text: str
    gold: str
    predicted: str
    intent: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "text": self.text,
            "gold": self.gold,
            "predicted": self.predicted,
            "intent": self.intent,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class FormMetrics:
    """Accuracy on the messages written one way; ``lang`` is ``"all"`` for every language."""

    lang: str
    form: str
    support: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.support if self.support else 0.0


@dataclass(frozen=True, slots=True)
class Confusion:
    """``count`` messages of ``gold`` were taken for ``predicted``; ``example`` is the first."""

    gold: str
    predicted: str
    count: int
    example: str
    example_lang: str


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _per_label(predictions: Sequence[Prediction]) -> list[ClassMetrics]:
    gold = Counter(p.gold for p in predictions)
    pred = Counter(p.predicted for p in predictions)
    hits = Counter(p.gold for p in predictions if p.correct)
    out = []
    for label in sorted(set(gold) | set(pred)):
        precision = hits[label] / pred[label] if pred[label] else 0.0
        recall = hits[label] / gold[label] if gold[label] else 0.0
        out.append(
            ClassMetrics(label, precision, recall, _f1(precision, recall), gold[label], pred[label])
        )
    return out


def _macro(metrics: Iterable[ClassMetrics]) -> tuple[float, float, float]:
    present = [m for m in metrics if m.support]
    if not present:
        return 0.0, 0.0, 0.0
    n = len(present)
    return (
        sum(m.precision for m in present) / n,
        sum(m.recall for m in present) / n,
        sum(m.f1 for m in present) / n,
    )


def _accuracies(preds: Sequence[Prediction]) -> tuple[float, float | None, float | None]:
    in_scope = [p for p in preds if p.gold != OUT_OF_SCOPE]
    oos = [p for p in preds if p.gold == OUT_OF_SCOPE]
    return (
        _ratio(sum(p.correct for p in preds), len(preds)) or 0.0,
        _ratio(sum(p.correct for p in in_scope), len(in_scope)),
        _ratio(sum(p.correct for p in oos), len(oos)),
    )


@dataclass(frozen=True, slots=True)
class EvalReport:
    total: int
    correct: int
    accuracy: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    macro_f1: float
    per_language: tuple[LangMetrics, ...]
    per_family: tuple[ClassMetrics, ...]
    errors: tuple[EvalError, ...]
    model_id: str = ""
    per_language_family: tuple[tuple[str, tuple[ClassMetrics, ...]], ...] = ()
    per_form: tuple[FormMetrics, ...] = ()
    confusions: tuple[Confusion, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "total": self.total,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "in_scope_accuracy": self.in_scope_accuracy,
            "oos_recall": self.oos_recall,
            "macro_f1": self.macro_f1,
            "per_language": {
                m.lang: {
                    "support": m.support,
                    "accuracy": m.accuracy,
                    "in_scope_accuracy": m.in_scope_accuracy,
                    "oos_recall": m.oos_recall,
                    "precision": m.precision,
                    "recall": m.recall,
                    "f1": m.f1,
                }
                for m in self.per_language
            },
            "per_family": {m.label: _class_dict(m) for m in self.per_family},
            "per_language_family": {
                lang: {m.label: _class_dict(m) for m in metrics}
                for lang, metrics in self.per_language_family
            },
            "per_form": [
                {"lang": m.lang, "form": m.form, "support": m.support, "accuracy": m.accuracy}
                for m in self.per_form
            ],
            "confusions": [
                {"gold": c.gold, "predicted": c.predicted, "count": c.count,
                 "example": c.example, "example_lang": c.example_lang}
                for c in self.confusions
            ],
            "errors": [e.to_dict() for e in self.errors],
        }

    def format(self, max_errors: int = MAX_ERRORS_SHOWN) -> str:
        """A readable report: per language, per family, totals, then example errors."""
        lines = [
            f"NLU evaluation: {self.total} texts"
            + (f", model {self.model_id}" if self.model_id else "")
        ]
        lines += [
            "",
            "By language",
            f"{'lang':<6}{'n':>6}{'acc':>8}{'in-scope':>10}{'oos-rec':>9}{'P':>7}{'R':>7}{'F1':>7}",
        ]
        for m in self.per_language:
            lines.append(
                f"{m.lang:<6}{m.support:>6}{_pct(m.accuracy):>8}{_pct(m.in_scope_accuracy):>10}"
                f"{_pct(m.oos_recall):>9}{m.precision:>7.2f}{m.recall:>7.2f}{m.f1:>7.2f}"
            )
        lines += [
            "",
            "By family",
            f"{'family':<18}{'support':>8}{'pred':>6}{'P':>7}{'R':>7}{'F1':>7}",
        ]
        for c in self.per_family:
            lines.append(
                f"{c.label:<18}{c.support:>8}{c.predicted:>6}"
                f"{c.precision:>7.2f}{c.recall:>7.2f}{c.f1:>7.2f}"
            )
        lines += _family_by_language_lines(self.per_language_family)
        lines += _form_lines(self.per_form)
        lines += [
            "",
            "Totals",
            f"  accuracy           {_pct(self.accuracy):>7}  ({self.correct}/{self.total})",
            f"  in-scope accuracy  {_pct(self.in_scope_accuracy):>7}",
            f"  out-of-scope recall{_pct(self.oos_recall):>8}",
            f"  macro F1           {self.macro_f1:>7.3f}",
        ]
        lines += _confusion_lines(self.confusions)
        if self.errors:
            shown = self.errors[:max_errors]
            lines += ["", f"Errors ({len(shown)} of {len(self.errors)})"]
            for e in shown:
                lines.append(
                    f"  [{e.lang}] {e.gold} -> {e.predicted} ({e.intent} {e.confidence:.2f}): {e.text}"
                )
        return "\n".join(lines)


def _class_dict(m: ClassMetrics) -> dict[str, Any]:
    return {
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
        "support": m.support,
        "predicted": m.predicted,
    }


def _family_by_language_lines(
    per_language_family: Sequence[tuple[str, Sequence[ClassMetrics]]],
) -> list[str]:
    if not per_language_family:
        return []
    lines = [
        "",
        "By language and family",
        f"{'lang':<6}{'family':<18}{'support':>8}{'pred':>6}{'P':>7}{'R':>7}{'F1':>7}",
    ]
    for lang, metrics in per_language_family:
        for c in metrics:
            lines.append(
                f"{lang:<6}{c.label:<18}{c.support:>8}{c.predicted:>6}"
                f"{c.precision:>7.2f}{c.recall:>7.2f}{c.f1:>7.2f}"
            )
    return lines


def _form_lines(per_form: Sequence[FormMetrics]) -> list[str]:
    if not per_form:
        return []
    lines = ["", "By form", f"{'lang':<6}{'form':<12}{'n':>6}{'acc':>8}"]
    for m in per_form:
        lines.append(
            f"{m.lang:<6}{m.form:<12}{m.support:>6}{_pct(m.accuracy):>8}  ({m.correct}/{m.support})"
        )
    return lines


def _confusion_lines(confusions: Sequence[Confusion]) -> list[str]:
    if not confusions:
        return []
    shown = confusions[:MAX_CONFUSIONS_SHOWN]
    lines = [
        "",
        f"Top confusions ({len(shown)} of {len(confusions)} pairs)",
        f"{'gold':<18}{'predicted':<18}{'n':>5}  example",
    ]
    for c in shown:
        lines.append(
            f"{c.gold:<18}{c.predicted:<18}{c.count:>5}  [{c.example_lang}] {c.example}"
        )
    return lines


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def build_report(predictions: Sequence[Prediction], model_id: str = "") -> EvalReport:
    """Compute every metric from predictions (no network; :func:`evaluate` calls this)."""
    accuracy, in_scope, oos = _accuracies(predictions)
    per_family = _per_label(predictions)
    per_language = []
    per_language_family = []
    langs = sorted({p.row.lang for p in predictions}, key=_lang_order)
    for lang in langs:
        subset = [p for p in predictions if p.row.lang == lang]
        acc, l_in, l_oos = _accuracies(subset)
        labels = _per_label(subset)
        precision, recall, f1 = _macro(labels)
        per_language.append(LangMetrics(lang, len(subset), acc, l_in, l_oos, precision, recall, f1))
        per_language_family.append((lang, tuple(labels)))
    errors = tuple(
        EvalError(p.row.lang, p.row.text, p.gold, p.predicted, p.intent, p.confidence)
        for p in predictions
        if not p.correct
    )
    return EvalReport(
        total=len(predictions),
        correct=sum(p.correct for p in predictions),
        accuracy=accuracy,
        in_scope_accuracy=in_scope,
        oos_recall=oos,
        macro_f1=_macro(per_family)[2],
        per_language=tuple(per_language),
        per_family=tuple(per_family),
        errors=errors,
        model_id=model_id,
        per_language_family=tuple(per_language_family),
        per_form=_per_form(predictions, langs),
        confusions=_confusions(predictions),
    )


def _per_form(predictions: Sequence[Prediction], langs: Sequence[str]) -> tuple[FormMetrics, ...]:
    """Every form over all languages, then each language x form (ru translit has a target)."""
    forms = sorted({p.row.form for p in predictions if p.row.form})
    out = []
    for lang in ("all", *langs):
        for form in forms:
            subset = [
                p for p in predictions
                if p.row.form == form and (lang == "all" or p.row.lang == lang)
            ]
            if subset:
                out.append(FormMetrics(lang, form, len(subset), sum(p.correct for p in subset)))
    return tuple(out)


def _confusions(predictions: Sequence[Prediction]) -> tuple[Confusion, ...]:
    """Wrong (gold, predicted) pairs, most frequent first, each with its first example."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], EvalRow] = {}
    for p in predictions:
        if not p.correct:
            pair = (p.gold, p.predicted)
            counts[pair] += 1
            first.setdefault(pair, p.row)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(
        Confusion(gold, pred, n, first[(gold, pred)].text, first[(gold, pred)].lang)
        for (gold, pred), n in ranked
    )


def _lang_order(lang: str) -> tuple[int, str]:
    return (LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES), lang)


async def evaluate(client: NluClient, rows: Sequence[EvalRow], concurrency: int = 8) -> EvalReport:
    """Parse every row through ``client`` (at most ``concurrency`` at once) and score it.

    NLU errors propagate: a half-evaluated model is not a result.
    """
    semaphore = asyncio.Semaphore(max(1, concurrency))
    model_ids: set[str] = set()

    async def one(row: EvalRow) -> Prediction:
        async with semaphore:
            result = await client.parse(row.text, lang_hint=row.lang)
        model_ids.add(result.model_id)
        return Prediction(row=row, intent=result.intent, confidence=result.confidence)

    tasks = [asyncio.ensure_future(one(r)) for r in rows]
    try:
        predictions = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return build_report(predictions, model_id=",".join(sorted(model_ids)))
