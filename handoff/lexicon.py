"""The handoff's word lists (``handoff/data/lexicon.yml``): cancel words and the sentiment
lexicon, validated once and merged across languages (ru, en, be)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlu.languages import LANGUAGES

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicon.yml"


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е").strip()


@dataclass(frozen=True)
class Lexicon:
    cancel: frozenset[str]
    negators: frozenset[str]
    intensifiers: frozenset[str]
    words: dict[str, float]  # exact words and multi-word phrases
    prefixes: dict[str, float]  # "ужасн" for "ужасн*"

    @property
    def longest_phrase(self) -> int:
        return max((len(key.split()) for key in self.words), default=1)


def parse_lexicon(raw: object) -> Lexicon:
    """Build a :class:`Lexicon` from the YAML structure; ValueError names what is wrong."""
    if not isinstance(raw, dict):
        raise TypeError("the lexicon must be a mapping")
    words: dict[str, float] = {}
    prefixes: dict[str, float] = {}
    for lang, entries in _per_lang(raw, "sentiment").items():
        if not isinstance(entries, dict):
            raise TypeError(f"sentiment.{lang} must map words to weights")
        for word, weight in entries.items():
            if not isinstance(weight, int | float) or not -4 <= weight <= 3:
                raise ValueError(f"sentiment.{lang}.{word}: weight must be a number in -4..3")
            key = normalise(str(word))
            if key.endswith("*"):
                prefixes[key[:-1]] = float(weight)
            else:
                words[key] = float(weight)
    return Lexicon(
        cancel=frozenset(_words(raw, "cancel")),
        negators=frozenset(_words(raw, "negators")),
        intensifiers=frozenset(_words(raw, "intensifiers")),
        words=words,
        prefixes=prefixes,
    )


def _per_lang(raw: dict[object, object], key: str) -> dict[str, object]:
    section = raw.get(key)
    if not isinstance(section, dict) or set(section) != set(LANGUAGES):
        raise ValueError(f"{key}: give ru, en and be")
    return {str(lang): value for lang, value in section.items()}


def _words(raw: dict[object, object], key: str) -> list[str]:
    out: list[str] = []
    for lang, values in _per_lang(raw, key).items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{key}.{lang} must be a non-empty list")
        out += [normalise(str(value)) for value in values]
    return out


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    with path.open(encoding="utf-8") as handle:
        return parse_lexicon(yaml.safe_load(handle))
