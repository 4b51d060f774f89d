"""Load and validate the knowledge base from its data directory."""

from __future__ import annotations

from pathlib import Path

from knowledge_base.checks import check_sources
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.lookup import build_lookup
from knowledge_base.service import KnowledgeBase
from knowledge_base.sources import DEFAULT_DATA_DIR, read_sources


def load_knowledge_base(data_dir: Path | None = None) -> KnowledgeBase:
    """Load ``data_dir`` (default: knowledge_base/data); KnowledgeBaseError lists every problem."""
    knowledge_base, problems = _load(data_dir)
    if knowledge_base is None:
        raise KnowledgeBaseError(problems)
    return knowledge_base


def check_knowledge_base(data_dir: Path | None = None) -> list[str]:
    """The problems of ``data_dir`` ("FILE:LINE: FIELD: MESSAGE"); [] when it is valid."""
    return _load(data_dir)[1]


def _load(data_dir: Path | None) -> tuple[KnowledgeBase | None, list[str]]:
    sources, problems = read_sources(Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR)
    if sources is None:
        return None, problems
    countries = sources.countries.model
    lookup, collisions = build_lookup(countries.countries)
    problems = check_sources(sources, collisions)
    if problems:
        return None, problems
    knowledge_base = KnowledgeBase(
        articles=[article for parsed in sources.articles for article in parsed.model.articles],
        zones=countries.zones,
        countries=countries.countries,
        contacts=sources.contacts.model.contacts,
        phrases=sources.phrases.model.phrases,
        intent_labels=sources.labels.model.intent_labels,
        topics=sources.labels.model.topics,
        not_topics=sources.labels.model.not_topics,
        country_lookup=lookup,
        commands={str(name): words for name, words in sources.commands.model.commands.items()},
    )
    return knowledge_base, []
