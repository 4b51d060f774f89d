"""Training: assemble the Rasa training data (hand-written files + the country lookup generated
from the knowledge base) and train a model once per distinct input, cached by its hash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from nlu.errors import NluError

log = logging.getLogger(__name__)

NLU_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = NLU_DIR.parent
CONFIG_FILE = NLU_DIR / "config.yml"
DOMAIN_FILE = NLU_DIR / "domain.yml"
DATA_DIR = NLU_DIR / "data"
ADDONS_DIR = NLU_DIR / "rasa_addons"
GENERATED_NAME = "generated_countries.yml"
MODEL_PREFIX = "nlu-"
# Short surface forms ("us", "uk") collide with ordinary words; such aliases stay out of the lookup.
MIN_FORM_LENGTH = 3


class RasaNotInstalled(NluError):
    """The Rasa environment (.venv-rasa) is missing."""


class TrainingFailed(NluError):
    """`rasa train nlu` exited with an error."""


def rasa_executable(venv: Path) -> Path:
    path = venv / "bin" / "rasa"
    if not path.exists():
        raise RasaNotInstalled(
            f"Rasa is not installed in {venv}. Run `make rasa-venv` (needs Python 3.10: "
            "`pyenv install 3.10`), or point RASA_URL at a running Rasa server "
            "(e.g. `docker compose up rasa`)."
        )
    return path


def rasa_python(venv: Path) -> Path:
    """The Python of the Rasa environment (checked through its ``rasa`` script)."""
    return rasa_executable(venv).parent / "python"


def rasa_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry, quiet TensorFlow, our components importable."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(NLU_DIR), env.get("PYTHONPATH", "")) if p
            ),
            "RASA_CACHE_DIRECTORY": str(PROJECT_ROOT / ".rasa" / "cache"),
        }
    )
    if extra:
        env.update(extra)
    return env


def lookup_document(country_lookup: Mapping[str, str]) -> dict[str, object]:
    """Rasa NLU YAML with a ``country`` lookup table and synonyms to canonical names."""
    forms_by_country: dict[str, list[str]] = {}
    for form, canonical in sorted(country_lookup.items()):
        if len(form) >= MIN_FORM_LENGTH:
            forms_by_country.setdefault(canonical, []).append(form)
    all_forms = sorted({f for forms in forms_by_country.values() for f in forms})
    nlu: list[dict[str, str]] = [{"lookup": "country", "examples": _examples(all_forms)}]
    for canonical, forms in sorted(forms_by_country.items()):
        nlu.append({"synonym": canonical, "examples": _examples(forms)})
    return {"version": "3.1", "nlu": nlu}


def _examples(items: list[str]) -> str:
    return "".join(f"- {item}\n" for item in items)


def build_training_data(country_lookup: Mapping[str, str], out_dir: Path) -> Path:
    """Copy nlu/data and add the generated lookup; returns the directory to train on."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for source in sorted(DATA_DIR.rglob("*.yml")):
        target = out_dir / source.relative_to(DATA_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    generated = out_dir / GENERATED_NAME
    generated.write_text(
        "# Generated from knowledge_base/data/reference/countries.yml - do not edit.\n"
        + yaml.safe_dump(lookup_document(country_lookup), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return out_dir


def fingerprint(data_dir: Path) -> str:
    """A hash of everything that shapes the model: config, domain, data and our components."""
    digest = hashlib.sha256()
    files = [CONFIG_FILE, DOMAIN_FILE, *sorted(data_dir.rglob("*.yml"))]
    if ADDONS_DIR.exists():
        files += sorted(ADDONS_DIR.rglob("*.py"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(models_dir: Path, data_fingerprint: str) -> Path:
    return models_dir / f"{MODEL_PREFIX}{data_fingerprint}.tar.gz"


def train(
    country_lookup: Mapping[str, str],
    *,
    venv: Path,
    models_dir: Path,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> Path:
    """Train unless a model for exactly this data exists; returns the model file."""
    build_dir = PROJECT_ROOT / "build" / "nlu-data"
    data_dir = build_training_data(country_lookup, build_dir)
    target = model_path(models_dir, fingerprint(data_dir))
    if target.exists() and not force:
        echo(f"NLU model is up to date: {target}")
        return target
    rasa = rasa_executable(venv)
    models_dir.mkdir(parents=True, exist_ok=True)
    echo(f"Training the NLU model (about a minute) -> {target}")
    command = [
        str(rasa), "train", "nlu",
        "--config", str(CONFIG_FILE),
        "--domain", str(DOMAIN_FILE),
        "--nlu", str(data_dir),
        "--out", str(models_dir),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=rasa_environment(), capture_output=True, text=True,
        check=False,
    )
    if result.returncode != 0 or not target.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise TrainingFailed(f"rasa train nlu failed (exit {result.returncode}):\n{tail}")
    _remove_old_models(models_dir, keep=target)
    echo(f"Trained {target}")
    return target


def latest_model(models_dir: Path) -> Path | None:
    models = sorted(models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def _remove_old_models(models_dir: Path, keep: Path, retain: int = 2) -> None:
    others = sorted(
        (p for p in models_dir.glob(f"{MODEL_PREFIX}*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in others[:-retain] if retain else others:
        old.unlink(missing_ok=True)
