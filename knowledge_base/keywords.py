"""Keyword understanding: what the bot still understands while the Rasa server is down.

The vocabulary lives in ``knowledge_base/data/keywords.yml`` (its header explains the format): intents in order of
priority, each with keywords per language; ``word`` matches that word, ``stem*`` any word that
starts with the stem, several words match in a row. :meth:`KeywordMatcher.match` returns an
:class:`~nlu.results.NluResult` marked ``model_id="keywords"`` for the first intent with a
matching keyword, else None. Given the knowledge base's country lookup (surface form ->
canonical name), it also finds the ``country`` entity, and a country alone means
``country_intent`` (roaming).

Loading validates the file; :class:`KeywordError` lists every problem as "FILE:LINE: FIELD: ...".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import YamlDocument, read_yaml
from nlu.lang import LANGUAGES, detect_language
from nlu.results import FAMILIES, KEYWORDS_MODEL_ID, Entity, NluResult, intent_family

__all__ = ["KEYWORDS_FILE", "KeywordError", "KeywordMatcher"]

KEYWORDS_FILE = Path(__file__).resolve().parent / "data" / "keywords.yml"
MIN_STEM = 3  # "п*" would match half the language

_TOKEN = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
_KEYWORD_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*\*?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "`": "'", "\u2018": "'"})


class KeywordError(ValueError):
    """The keyword file is invalid; ``problems`` lists each as "FILE:LINE: FIELD: MESSAGE"."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems) or ["the keyword file is invalid"]
        super().__init__("\n".join(self.problems))


def _fold(text: str) -> str:
    """Lower case, ё -> е, straight apostrophes; keeps the length, so offsets stay valid."""
    return text.lower().replace("ё", "е").translate(_APOSTROPHES)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    prefix: bool

    def matches(self, token: str) -> bool:
        return token.startswith(self.text) if self.prefix else token == self.text


@dataclass(frozen=True, slots=True)
class _Keyword:
    words: tuple[_Word, ...]

    def found_in(self, tokens: list[str]) -> bool:
        n = len(self.words)
        return any(
            all(w.matches(t) for w, t in zip(self.words, tokens[i : i + n], strict=True))
            for i in range(len(tokens) - n + 1)
        )


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int


class KeywordMatcher:
    """Understands a message by keywords alone. Immutable; safe to share."""

    def __init__(
        self,
        intents: Iterable[tuple[str, Iterable[_Keyword]]],
        *,
        country_intent: str | None = None,
        countries: Mapping[str, str] | None = None,
    ) -> None:
        self._intents = tuple((intent, tuple(keywords)) for intent, keywords in intents)
        self._country_intent = country_intent
        self._countries = {_fold(" ".join(k.split())): v for k, v in (countries or {}).items()}
        self._country_words = max((len(k.split()) for k in self._countries), default=0)

    @classmethod
    def load(
        cls, path: Path = KEYWORDS_FILE, *, countries: Mapping[str, str] | None = None
    ) -> KeywordMatcher:
        """Read and validate ``path``; ``countries`` is the knowledge base's country lookup."""
        try:
            doc = read_yaml(path)
        except KnowledgeBaseError as exc:
            raise KeywordError(exc.problems) from exc
        intents, country_intent = _parse(doc)
        return cls(intents, country_intent=country_intent, countries=countries)

    @classmethod
    def default(cls) -> KeywordMatcher:
        """The packaged ``knowledge_base/data/keywords.yml`` without countries, read once per process."""
        return _default_matcher()

    def with_countries(self, countries: Mapping[str, str]) -> KeywordMatcher:
        """The same keywords, also finding these countries (surface form -> canonical name)."""
        return KeywordMatcher(
            self._intents, country_intent=self._country_intent, countries=countries
        )

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(intent for intent, _ in self._intents)

    def match(self, text: str, lang: str | None = None) -> NluResult | None:
        """The first intent whose keyword occurs in ``text`` (or a lone country), else None."""
        folded = _fold(text)
        if len(folded) != len(text):  # a rare letter changed length: offsets are unusable
            folded_tokens = [_Token(m.group(), 0, 0) for m in _TOKEN.finditer(folded)]
        else:
            folded_tokens = [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        words = [t.text for t in folded_tokens]
        entities = self._countries_in(text, folded_tokens)
        intent = next(
            (name for name, keywords in self._intents if any(k.found_in(words) for k in keywords)),
            None,
        )
        if intent is None and entities and self._country_intent:
            intent = self._country_intent
        if intent is None:
            return None
        return NluResult.certain(
            text, intent, entities, lang=detect_language(text, lang), model_id=KEYWORDS_MODEL_ID
        )

    def _countries_in(self, text: str, tokens: list[_Token]) -> tuple[Entity, ...]:
        """The first country named in the text, longest name first ("новая зеландия")."""
        for size in range(min(self._country_words, len(tokens)), 0, -1):
            for i in range(len(tokens) - size + 1):
                span = tokens[i : i + size]
                canonical = self._countries.get(" ".join(t.text for t in span))
                if canonical is not None:
                    start, end = span[0].start, span[-1].end
                    return (
                        Entity(
                            name="country", value=canonical, text=text[start:end],
                            start=start, end=end, extractor="keywords",
                        ),
                    )
        return ()

    def __repr__(self) -> str:
        return f"KeywordMatcher(intents={len(self._intents)}, countries={len(self._countries)})"


@cache
def _default_matcher() -> KeywordMatcher:
    return KeywordMatcher.load()


# -- reading the file ------------------------------------------------------------------------

def _parse(doc: YamlDocument) -> tuple[list[tuple[str, list[_Keyword]]], str | None]:
    problems: list[str] = []
    data = doc.data
    if not isinstance(data, dict):
        raise KeywordError([doc.problem((), "expected a mapping with `intents`")])
    for key in data:
        if key not in ("intents", "country_intent"):
            problems.append(doc.problem((key,), "unknown field (expected intents, country_intent)"))
    raw_intents = data.get("intents")
    intents: list[tuple[str, list[_Keyword]]] = []
    seen: dict[str, tuple[str, int]] = {}  # folded keyword -> (intent, line)
    if not isinstance(raw_intents, dict) or not raw_intents:
        problems.append(doc.problem(("intents",), "expected a mapping of intent -> keywords"))
        raw_intents = {}
    for intent, by_lang in raw_intents.items():
        loc: tuple[str | int, ...] = ("intents", intent)
        if not _known_intent(str(intent)):
            problems.append(doc.problem(loc, f"unknown intent (families: {', '.join(FAMILIES)})"))
            continue
        if not isinstance(by_lang, dict) or not by_lang:
            problems.append(doc.problem(loc, "expected a mapping of language -> list of keywords"))
            continue
        keywords: list[_Keyword] = []
        for lang, items in by_lang.items():
            lang_loc = (*loc, lang)
            if lang not in LANGUAGES:
                problems.append(doc.problem(lang_loc, f"unknown language (use {', '.join(LANGUAGES)})"))
                continue
            if not isinstance(items, list) or not items:
                problems.append(doc.problem(lang_loc, "expected a non-empty list of keywords"))
                continue
            for index, item in enumerate(items):
                item_loc = (*lang_loc, index)
                keyword, problem = _keyword(item)
                if problem:
                    problems.append(doc.problem(item_loc, problem))
                    continue
                assert keyword is not None
                folded = " ".join(w.text + ("*" if w.prefix else "") for w in keyword.words)
                earlier = seen.get(folded)
                if earlier is not None and earlier[0] != intent:
                    problems.append(doc.problem(
                        item_loc, f"{item!r} is also a keyword of {earlier[0]} (line {earlier[1]})"
                    ))
                    continue
                seen.setdefault(folded, (str(intent), doc.line(item_loc)))
                keywords.append(keyword)
        intents.append((str(intent), keywords))
    country_intent = data.get("country_intent")
    if country_intent is not None and not (
        isinstance(country_intent, str) and _known_intent(country_intent)
    ):
        problems.append(doc.problem(("country_intent",), "expected a known intent name"))
        country_intent = None
    if problems:
        raise KeywordError(problems)
    return intents, country_intent


def _known_intent(name: str) -> bool:
    return intent_family(name) in FAMILIES


def _keyword(item: object) -> tuple[_Keyword | None, str | None]:
    if not isinstance(item, str) or not item.strip():
        return None, "expected a keyword (a non-empty string)"
    words: list[_Word] = []
    for raw in _fold(item).split():
        if not _KEYWORD_WORD.fullmatch(raw):
            return None, (
                f"{raw!r} is not a word: letters (with ' or -), optionally ending in * for a stem"
            )
        prefix = raw.endswith("*")
        stem = raw.rstrip("*")
        if prefix and len(stem) < MIN_STEM:
            return None, f"the stem {raw!r} is too short: at least {MIN_STEM} letters before *"
        words.append(_Word(stem, prefix))
    return _Keyword(tuple(words)), None
