"""Fixtures: the real knowledge base, and a copy of its data to break in a test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge_base import DEFAULT_DATA_DIR, KnowledgeBase, load_knowledge_base


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the real data; tests edit it to make it invalid."""
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    return target


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` (which must contain it)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, fragment: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``fragment``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in {path}")
