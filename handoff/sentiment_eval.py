"""Measuring sentiment analysers on a labelled TSV (see :func:`handoff.sentiment_model.load_examples`).

For each analyser, per language, per writing form (when the file gives one) and overall:
accuracy over the three moods, precision and recall of negative / neutral / positive, precision
and recall of *strongly negative* (the escalation trigger), and the counts behind them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from handoff.sentiment import Label, analyse, lexicon_analyse
from handoff.sentiment_model import MOODS, Example, SentimentModel

# (mood, strongly negative) for each text, in order.
Predictor = Callable[[Sequence[str]], list[tuple[str, bool]]]
STRONG_PRECISION_TARGET = 0.90
STRONG_RECALL_TARGET = 0.70


def ratio(hit: int, total: int) -> float | None:
    """``hit / total``, or None when nothing was there to count (shown as "-")."""
    return hit / total if total else None


@dataclass
class Scores:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (truth, predicted)
    strong: Counter[str] = field(default_factory=Counter)  # tp / fp / fn / tn

    def add(self, truth: Example, mood: str, strong: bool) -> None:
        self.confusion[truth.label, mood] += 1
        self.strong[("t" if strong == truth.strong else "f") + ("p" if strong else "n")] += 1

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def accuracy(self) -> float | None:
        return ratio(sum(self.confusion[m, m] for m in MOODS), self.total)

    def precision(self, mood: str) -> float | None:
        return ratio(self.confusion[mood, mood], sum(self.confusion[t, mood] for t in MOODS))

    def recall(self, mood: str) -> float | None:
        return ratio(self.confusion[mood, mood], sum(self.confusion[mood, p] for p in MOODS))

    def f1(self, mood: str) -> float:
        p, r = self.precision(mood) or 0.0, self.recall(mood) or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def macro_f1(self) -> float:
        return sum(self.f1(m) for m in MOODS) / len(MOODS)

    @property
    def strong_precision(self) -> float | None:
        return ratio(self.strong["tp"], self.strong["tp"] + self.strong["fp"])

    @property
    def strong_recall(self) -> float | None:
        return ratio(self.strong["tp"], self.strong["tp"] + self.strong["fn"])

    def rank(self) -> tuple[bool, float, float]:
        """Which analyser to keep, best highest: strong precision at the target first, then
        strong recall (or, below the target, precision), then the moods' macro F1."""
        precise = (self.strong_precision or 0.0) >= STRONG_PRECISION_TARGET
        second = (self.strong_recall or 0.0) if precise else (self.strong_precision or 0.0)
        return precise, second, self.macro_f1


def evaluate(examples: Sequence[Example], predict: Predictor) -> dict[str, Scores]:
    """Scores overall ("all"), per language ("ru") and per form ("form translit")."""
    predictions = predict([e.text for e in examples])
    groups: dict[str, Scores] = {"all": Scores()}
    for example, (mood, strong) in zip(examples, predictions, strict=True):
        keys = ["all", example.lang] + ([f"form {example.form}"] if example.form else [])
        for key in keys:
            groups.setdefault(key, Scores()).add(example, mood, strong)
    return groups


# -- the analysers compared --------------------------------------------------------------

def lexicon_predictor(texts: Sequence[str]) -> list[tuple[str, bool]]:
    out = []
    for text in texts:
        label = lexicon_analyse(text).label
        strong = label == Label.STRONGLY_NEGATIVE
        out.append(("negative" if strong else label, strong))
    return out


def analyse_predictor(texts: Sequence[str]) -> list[tuple[str, bool]]:
    """What the bot uses: :func:`handoff.sentiment.analyse`."""
    out = []
    for text in texts:
        result = analyse(text)
        out.append(("negative" if result.strongly_negative else result.label,
                    result.strongly_negative))
    return out


def classifier_predictor(model: SentimentModel) -> Predictor:
    def predict(texts: Sequence[str]) -> list[tuple[str, bool]]:
        return [(p.label, p.strong) for p in model.predict(texts)]
    return predict


def combined_predictor(model: SentimentModel, *, both: bool) -> Predictor:
    """The classifier's moods; strongly negative when both (or either) of the classifier and
    the lexicon say so."""
    def predict(texts: Sequence[str]) -> list[tuple[str, bool]]:
        out = []
        for (mood, strong), (_, lexicon_strong) in zip(
                classifier_predictor(model)(texts), lexicon_predictor(texts), strict=True):
            joined = strong and lexicon_strong if both else strong or lexicon_strong
            out.append(("negative" if joined else mood, joined))
        return out
    return predict


# -- printing ------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "    -" if value is None else f"{100 * value:5.1f}"


def format_scores(name: str, groups: dict[str, Scores]) -> str:
    head = (f"{'':14}{'n':>5} {'acc':>5}  " + "  ".join(f"{m[:3]} P/R   " for m in MOODS)
            + f"  {'macroF1':>7}  {'strong P/R':>11}  strong tp/fp/fn")
    lines = [f"== {name}", head]
    order = ["all"] + sorted(k for k in groups if k != "all" and not k.startswith("form "))
    order += sorted(k for k in groups if k.startswith("form "))
    for key in order:
        s = groups[key]
        moods = "  ".join(f"{_pct(s.precision(m))}/{_pct(s.recall(m))}" for m in MOODS)
        lines.append(
            f"{key[:14]:14}{s.total:5d} {_pct(s.accuracy)}  {moods}  {100 * s.macro_f1:7.1f}  "
            f"{_pct(s.strong_precision)}/{_pct(s.strong_recall)}  "
            f"{s.strong['tp']}/{s.strong['fp']}/{s.strong['fn']}")
    whole = groups["all"]
    lines.append("confusion (rows truth, columns predicted: "
                 + " ".join(m[:3] for m in MOODS) + "): "
                 + "; ".join(f"{t[:3]} " + " ".join(str(whole.confusion[t, p]) for p in MOODS)
                             for t in MOODS))
    return "\n".join(lines)
