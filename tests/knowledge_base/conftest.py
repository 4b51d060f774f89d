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

