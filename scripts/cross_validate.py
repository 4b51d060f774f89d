"""`make eval`, part 2: Rasa's own 3-fold cross-validation on the training data.

Prints accuracy, weighted F1 and the per-intent F1 from ``intent_report.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bot.config import get_settings
from knowledge_base import load_knowledge_base
from nlu.training import (
    CONFIG_FILE,
    PROJECT_ROOT,
    build_training_data,
    rasa_environment,
    rasa_executable,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "cross-validation")
    args = parser.parse_args()
    settings = get_settings()
    data = build_training_data(
        load_knowledge_base(settings.kb_dir).country_lookup(), PROJECT_ROOT / "build" / "cv-data"
    )
    command = [
        str(rasa_executable(settings.rasa_venv)), "test", "nlu", "--nlu", str(data),
        "--config", str(CONFIG_FILE), "--cross-validation", "--folds", str(args.folds),
        "--out", str(args.out), "--no-plot",
    ]
    print(f"Rasa cross-validation ({args.folds} folds) - takes a few minutes...", flush=True)
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=rasa_environment(), check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        return done.returncode
    report = json.loads((args.out / "intent_report.json").read_text())
    print(f"accuracy {report['accuracy']:.3f}   weighted F1 {report['weighted avg']['f1-score']:.3f}"
          f"   macro F1 {report['macro avg']['f1-score']:.3f}")
    print(f"{'intent':28} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for name, row in sorted(report.items()):
        if not isinstance(row, dict) or name.endswith("avg"):
            continue
        print(f"{name:28} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1-score']:6.3f}"
              f" {row['support']:8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
