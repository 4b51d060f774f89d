"""Words, stems, the query's terms and the snippet: one set of rules for the SQLite index, the
query and the highlighter on both databases.

Stemming follows PostgreSQL's ``russian`` configuration, so a hit PostgreSQL finds is a word
the highlighter marks: a word of ASCII letters gets the English Snowball stemmer, any other
word of letters the Russian one, a word with digits ("4g", "375291234567") stays as it is.
Everything is lower-case, NFC, with ё read as е.

The query language is the one of PostgreSQL's ``websearch_to_tsquery``, on both databases:
words must all match (AND), ``"quoted words"`` are a phrase, ``or`` between words is OR, and
``-word`` (after a space) excludes a word. Anything else in the query (``*``, ``(``, ``NEAR``,
``^``) is not syntax, only text: its words are searched, its punctuation ignored.

Where the databases still differ: PostgreSQL drops stop words ("не", "в", "the": a query of
only those finds nothing there), keeps an e-mail address or a host name as one token, and
skips what stands between ``<script>`` and ``</script>``; SQLite indexes every word.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

# a word: letters and digits (combining accents stay inside it, as a decomposed "й" does)
_WORD = r"[^\W_](?:[^\W_]|[\u0300-\u036f])*"
WORD = re.compile(_WORD)
LONGEST_STEMMED = 64  # longer "words" (a pasted token, a hash) are kept whole, never cached
SNIPPET_CHARS = 160
ELLIPSIS = "…"

_QUERY_TOKEN = re.compile(rf'(?P<neg>(?<!\S)-)?(?:"(?P<phrase>[^"]*)"?|(?P<word>{_WORD}))')
_OR = "or"


class _Stemmers(threading.local):
    """Snowball stemmers keep state while they work: one pair per thread (the index is
    stemmed in a worker thread, queries in the event loop's)."""

    def __init__(self) -> None:
        self.russian = snowballstemmer.stemmer("russian")
        self.english = snowballstemmer.stemmer("english")


_stemmers = _Stemmers()


def normal(word: str) -> str:
    return unicodedata.normalize("NFC", word).lower().replace("ё", "е")


def stem(word: str) -> str:
    """The stem of one word (as :data:`WORD` finds them)."""
    if len(word) > LONGEST_STEMMED:
        return normal(word)
    return _stem(word)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    word = normal(word)
    if not word.isalpha():
        return word
    stemmer = _stemmers.english if word.isascii() else _stemmers.russian
    return str(stemmer.stemWord(word)) or word


def stems(text: str) -> list[str]:
    """The stems of a text's words, in order (what the SQLite index stores for a message)."""
    return [stem(m.group()) for m in WORD.finditer(text)]


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a quoted phrase of the query (as stems), maybe excluded (``-word``)."""

    stems: tuple[str, ...]
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """Alternatives (``or``), each a list of terms that must all match. Alternatives with
    nothing to find (only exclusions) are dropped: no index can list "every message without
    a word" cheaply, so the query finds nothing rather than everything."""

    alternatives: tuple[tuple[Term, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.alternatives

    @property
    def highlighted(self) -> frozenset[str]:
        """The stems a snippet marks: those of the terms searched for, not the excluded."""
        return frozenset(
            s for terms in self.alternatives for term in terms if not term.excluded
            for s in term.stems
        )


def parse_query(query: str) -> ParsedQuery:
    alternatives: list[list[Term]] = [[]]
    pending_or = False
    for match in _QUERY_TOKEN.finditer(query):
        excluded = match.group("neg") is not None
        word, phrase = match.group("word"), match.group("phrase")
        if word is not None and not excluded and normal(word) == _OR:
            pending_or = bool(alternatives[-1])  # "or" first or twice means nothing
            continue
        found = tuple(stems(phrase if phrase is not None else word or ""))
        if not found:
            continue
        if pending_or:
            alternatives.append([])
            pending_or = False
        alternatives[-1].append(Term(found, excluded))
    return ParsedQuery(tuple(
        tuple(terms) for terms in alternatives if any(not t.excluded for t in terms)
    ))


def fts5_expression(query: ParsedQuery) -> str:
    """The query in SQLite FTS5's syntax. Every stem is a quoted string, so nothing a
    subscriber or a supervisor typed can be read as an FTS5 operator."""

    def quoted(term: Term) -> str:
        return '"' + " ".join(s.replace('"', '""') for s in term.stems) + '"'

    def alternative(terms: tuple[Term, ...]) -> str:
        wanted = " AND ".join(quoted(t) for t in terms if not t.excluded)
        unwanted = " OR ".join(quoted(t) for t in terms if t.excluded)
        return f"(({wanted}) NOT ({unwanted}))" if unwanted else f"({wanted})"

    return " OR ".join(alternative(terms) for terms in query.alternatives)


# -- snippets ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hit: bool = False


def _words(text: str) -> Iterator[tuple[int, int]]:
    for match in WORD.finditer(text):
        yield match.start(), match.end()


def snippet(text: str, highlighted: frozenset[str] = frozenset(),
            width: int = SNIPPET_CHARS) -> list[Segment]:
    """About ``width`` characters of the original text around its first hit, cut at word
    boundaries, as plain-text segments: words whose stem is highlighted are hits, and an
    ``…`` segment stands for each cut end. Never markup: the page sets it as text."""
    words = list(_words(text))
    hits = [(s, e) for s, e in words if highlighted and stem(text[s:e]) in highlighted]
    start = max(0, hits[0][0] - width // 3) if hits else 0
    end = min(len(text), start + width)
    if end == len(text):
        start = max(0, end - width)  # near the end: use the room before the hit
    if hits:
        start = min(start, hits[0][0])
    if start > 0:  # begin at a word (never at the middle of one)
        start = next((s for s, e in words if s >= start), start)
    if end < len(text):  # end after a whole word (unless one word is all there is)
        cut = next((s for s, e in words if s < end < e), end)
        if hits:
            cut = max(cut, hits[0][1])
        if cut > start:
            end = cut
    head, tail = start > 0, end < len(text)
    window = [(s, e) for s, e in hits if start <= s and e <= end]
    segments: list[Segment] = [Segment(ELLIPSIS)] if head else []
    at = start
    for s, e in window:
        if s > at:
            segments.append(Segment(text[at:s]))
        segments.append(Segment(text[s:e], hit=True))
        at = e
    if end > at:
        segments.append(Segment(text[at:end]))
    if tail:
        segments.append(Segment(ELLIPSIS))
    return _trimmed(segments, head, tail)


def _trimmed(segments: list[Segment], head: bool, tail: bool) -> list[Segment]:
    """No blank next to an ellipsis ("… word", not "…  word"); blank segments go."""
    out = list(segments)
    if head and len(out) > 1 and not out[1].hit:
        out[1] = Segment(out[1].text.lstrip())
    if tail and len(out) > 1 and not out[-2].hit:
        out[-2] = Segment(out[-2].text.rstrip())
    return [s for s in out if s.text]
