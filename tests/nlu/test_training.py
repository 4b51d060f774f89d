"""Training data assembly and the model cache (no Rasa needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge_base import load_knowledge_base
from nlu import training


def test_lookup_has_case_forms_and_synonyms_to_canonical_names() -> None:
    lookup = load_knowledge_base().country_lookup()
    document = training.lookup_document(lookup)
    tables = {item.get("lookup"): item for item in document["nlu"] if "lookup" in item}
    forms = {line[2:] for line in tables["country"]["examples"].splitlines()}
    assert {"польшу", "польше", "польши", "poland"} <= forms
    synonyms = {item["synonym"]: item["examples"] for item in document["nlu"] if "synonym" in item}
    assert "- польшу\n" in synonyms["Poland"]
    assert all(len(form) >= training.MIN_FORM_LENGTH for form in forms)


def test_build_copies_the_data_and_adds_the_generated_file(tmp_path: Path) -> None:
    out = training.build_training_data({"польшу": "Poland"}, tmp_path / "data")
    names = {p.name for p in out.rglob("*.yml")}
    assert training.GENERATED_NAME in names
    assert {p.name for p in training.DATA_DIR.rglob("*.yml")} <= names
    generated = yaml.safe_load((out / training.GENERATED_NAME).read_text(encoding="utf-8"))
    assert generated["nlu"][1] == {"synonym": "Poland", "examples": "- польшу\n"}


def test_fingerprint_changes_with_the_data(tmp_path: Path) -> None:
    a = training.fingerprint(training.build_training_data({"польшу": "Poland"}, tmp_path / "a"))
    b = training.fingerprint(training.build_training_data({"польшу": "Poland"}, tmp_path / "b"))
    c = training.fingerprint(training.build_training_data({"литву": "Lithuania"}, tmp_path / "c"))
    assert a == b
    assert a != c


def test_a_cached_model_is_not_retrained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = {"польшу": "Poland"}
    monkeypatch.setattr(training, "PROJECT_ROOT", tmp_path)
    data = training.build_training_data(lookup, tmp_path / "build" / "nlu-data")
    cached = training.model_path(tmp_path / "models", training.fingerprint(data))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"model")
    messages: list[str] = []
    # no Rasa environment at all: it must not be needed when the model is cached
    got = training.train(lookup, venv=tmp_path / "no-venv", models_dir=tmp_path / "models",
                         echo=messages.append)
    assert got == cached
    assert "up to date" in messages[0]


def test_training_without_rasa_says_what_to_do(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "PROJECT_ROOT", tmp_path)
    with pytest.raises(training.RasaNotInstalled, match="make rasa-venv"):
        training.train({"польшу": "Poland"}, venv=tmp_path / "no-venv",
                       models_dir=tmp_path / "models", echo=lambda _: None)

