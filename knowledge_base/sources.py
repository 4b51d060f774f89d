"""The files of the knowledge base (the layout under the data directory) and reading them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from knowledge_base.parsing import M, Parsed, parse_file
from knowledge_base.schema import (
    ArticlesFile,
    CommandsFile,
    ContactsFile,
    CountriesFile,
    IntentLabelsFile,
    PhrasesFile,
)
from knowledge_base.yaml_doc import display_path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"

ARTICLES_DIR = "articles"
COUNTRIES_FILE = "reference/countries.yml"
CONTACTS_FILE = "reference/contacts.yml"
PHRASES_FILE = "phrases.yml"
INTENT_LABELS_FILE = "intent_labels.yml"
COMMANDS_FILE = "commands.yml"


@dataclass(frozen=True)
class Sources:
    """All files, each valid in shape (cross-file checks come next)."""

    articles_dir: Path
    articles: tuple[Parsed[ArticlesFile], ...]
    countries: Parsed[CountriesFile]
    contacts: Parsed[ContactsFile]
    phrases: Parsed[PhrasesFile]
    labels: Parsed[IntentLabelsFile]
    commands: Parsed[CommandsFile]


def read_sources(data_dir: Path) -> tuple[Sources | None, list[str]]:
    """Read and shape-check every file; ``(None, problems)`` when any of them is invalid."""
    problems: list[str] = []
    if not data_dir.is_dir():
        return None, [f"{display_path(data_dir)}: the data directory does not exist"]
    articles_dir = data_dir / ARTICLES_DIR
    article_paths = sorted([*articles_dir.glob("*.yml"), *articles_dir.glob("*.yaml")])
    if not article_paths:
        problems.append(f"{display_path(articles_dir)}: no article files (*.yml)")
    articles: list[Parsed[ArticlesFile]] = []
    for path in article_paths:
        parsed, found = parse_file(path, ArticlesFile)
        problems += found
        if parsed is not None:
            articles.append(parsed)

    countries = _read_one(data_dir / COUNTRIES_FILE, CountriesFile, problems)
    contacts = _read_one(data_dir / CONTACTS_FILE, ContactsFile, problems)
    phrases = _read_one(data_dir / PHRASES_FILE, PhrasesFile, problems)
    labels = _read_one(data_dir / INTENT_LABELS_FILE, IntentLabelsFile, problems)
    commands = _read_one(data_dir / COMMANDS_FILE, CommandsFile, problems)
    if (problems or countries is None or contacts is None or phrases is None or labels is None
            or commands is None):
        return None, problems
    sources = Sources(articles_dir, tuple(articles), countries, contacts, phrases, labels,
                      commands)
    return sources, []


def _read_one(path: Path, model: type[M], problems: list[str]) -> Parsed[M] | None:
    if not path.is_file():
        problems.append(f"{display_path(path)}: the file is missing")
        return None
    parsed, found = parse_file(path, model)
    problems.extend(found)
    return parsed
