"""Sentiment, measured: the lexicon vs the classifier (and two combinations) on a labelled TSV.

    python scripts/eval_sentiment.py nlu/eval/sentiment.tsv
    python scripts/eval_sentiment.py --tune      # the strong threshold, by cross-validation
                                                 # on the training file only

The file: a header with lang, label (negative/neutral/positive), strong (1 = strongly
negative), text and optionally form; ``#`` comments. Only aggregate figures are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handoff.sentiment_eval import (
    STRONG_PRECISION_TARGET,
    STRONG_RECALL_TARGET,
    Predictor,
    analyse_predictor,
    classifier_predictor,
    combined_predictor,
    evaluate,
    format_scores,
    lexicon_predictor,
)
from handoff.sentiment_model import (
    TUNE_PRECISION,
    DataError,
    choose_threshold,
    get_model,
    load_examples,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, nargs="?", help="the labelled TSV to evaluate on")
    parser.add_argument("--unseen", action="store_true",
                        help="leave out messages that also occur in the training file")
    parser.add_argument("--tune", action="store_true",
                        help="choose the strong threshold by cross-validation on the training file")
    args = parser.parse_args(argv)
    if args.tune:
        threshold, precision, recall = choose_threshold(load_examples())
        print(f"strong threshold {threshold:.2f}: out-of-fold precision {100 * precision:.1f} %,"
              f" recall {100 * recall:.1f} % (target precision {100 * TUNE_PRECISION:.0f} %)")
        if args.file is None:
            return 0
    if args.file is None:
        parser.error("give the TSV to evaluate on (or --tune)")
    try:
        examples = load_examples(args.file)
    except (OSError, DataError) as error:
        print(f"eval_sentiment: {error}", file=sys.stderr)
        return 2
    # Short messages ("ok", "thanks") occur in any two independent sets; --unseen drops them.
    training = {_key(e.text) for e in load_examples()}
    shared = sum(_key(e.text) in training for e in examples)
    print(f"{len(examples)} messages; {shared} also in the training file", end="")
    if args.unseen:
        examples = [e for e in examples if _key(e.text) not in training]
        print(f", left out: {len(examples)} evaluated", end="")
    print("\n")
    model = get_model()
    analysers: dict[str, Predictor] = {
        "lexicon": lexicon_predictor,
        "classifier": classifier_predictor(model),
        "classifier, strong = classifier AND lexicon": combined_predictor(model, both=True),
        "classifier, strong = classifier OR lexicon": combined_predictor(model, both=False),
        "handoff.sentiment.analyse (what the bot uses)": analyse_predictor,
    }
    ranks = {}
    for name, predict in analysers.items():
        groups = evaluate(examples, predict)
        ranks[name] = groups["all"].rank()
        print(format_scores(name, groups), end="\n\n")
    best = max(ranks, key=ranks.__getitem__)
    print(f"best (strong precision >= {100 * STRONG_PRECISION_TARGET:.0f} %, then strong recall,"
          f" then macro F1): {best}; strong recall target {100 * STRONG_RECALL_TARGET:.0f} %")
    return 0


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


if __name__ == "__main__":
    raise SystemExit(main())
