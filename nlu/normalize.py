"""What the NLU reads instead of the raw message: Russian or Belarusian typed in Latin letters
turned into Cyrillic, runs of repeated letters collapsed, emoji and emoticons left out.

``normalize(text)`` returns a :class:`Normalized`: ``text_for_nlu`` (what Rasa and the cache see),
``lang_hint`` (``"ru"``/``"be"`` when the message was transliterated, else None), ``changes``
(what was done) and a map from offsets in ``text_for_nlu`` back to the original, so entities can
be shown on what the subscriber typed. The original itself stays the caller's, for the
transcript and for sentiment (emoji carry mood; the NLU does not need them).

Transliteration is decided per message, from its words of three letters or more: each word's
English frequency (wordfreq) is weighed against the frequency of its best Cyrillic reading in
Russian (or its presence in the table's Belarusian words); the differences, each clipped to
+-3, are summed, and a message whose sum reaches 1 is Russian typed in Latin. Then every word is
converted except the clearly English ones ("мой balance?"), all-caps abbreviations of up to four
letters, and anything with other digits than 4/6, URLs, e-mail addresses and codes like *100#.
Words of one or two letters never vote: "no", "da", "u" mean something in both languages.
The readings come from ``nlu/translit.yml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from wordfreq import get_frequency_dict

from nlu.lang import detect_language

__all__ = [
    "Normalized", "TranslitTable", "TranslitTableError", "load_table", "normalize", "warm_up",
]

TABLE_PATH = Path(__file__).with_name("translit.yml")
_CAP = 4096  # readings tried per word: a long word of ambiguous letters must stay cheap
_BE_SCORE = 3.0  # a listed Belarusian word counts as a fairly common word (zipf 3)...
_BE_SCORE_IN_BE = 7.0  # ...and beats any Russian reading once the message reads as Belarusian
_VOTE_CLIP = 3.0
_TRANSLIT_AT = 1.0
_RARE = 3.0
_CLEARLY_ENGLISH = 1.0  # zipf margin by which an English word stays English in a Russian message
_VOWELS = frozenset("aeiouy")


class TranslitTableError(ValueError):
    """The table file is wrong; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class TranslitTable:
    sequences: Mapping[str, tuple[str, ...]]
    word_start: Mapping[str, tuple[str, ...]]
    word_end: Mapping[str, tuple[str, ...]]
    soft_after: frozenset[str]
    belarusian_words: frozenset[str]

    @property
    def longest(self) -> int:
        return max(len(k) for k in self.sequences)


def _fail(path: Path, node: yaml.Node, message: str) -> TranslitTableError:
    return TranslitTableError(f"{path}:{node.start_mark.line + 1}: {message}")


def _strings(path: Path, node: yaml.Node, what: str, *, empty: bool = False) -> list[str]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise _fail(path, node, f"{what} must be a non-empty list")
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or (not item.value and not empty):
            raise _fail(path, item, f"{what}: expected a non-empty string")
        out.append(str(item.value).lower())
    return out


def _readings(path: Path, node: yaml.Node, what: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, f"{what} must be a mapping of Latin sequence -> Cyrillic list")
    out: dict[str, tuple[str, ...]] = {}
    for key, value in node.value:
        latin = str(key.value).lower()
        if not latin or latin in out:
            raise _fail(path, key, f"{what}: empty or repeated sequence {latin!r}")
        readings = _strings(path, value, f"{what}.{latin}", empty=True)
        bad = [r for r in readings if any(not ("\u0400" <= ch <= "\u04ff") for ch in r)]
        if bad:
            raise _fail(path, value, f"{what}.{latin}: not Cyrillic: {bad[0]!r}")
        out[latin] = tuple(readings)
    return out


def load_table(path: Path = TABLE_PATH) -> TranslitTable:
    """Read and check the table; TranslitTableError says what is wrong and on which line."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise TranslitTableError(f"{path}:{line}: not valid YAML: {exc}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise TranslitTableError(f"{path}:1: expected a mapping of sections")
    sections = {str(k.value): v for k, v in root.value}
    known = {"sequences", "word_start", "word_end", "soft_after", "belarusian_words"}
    for key, _ in root.value:
        if key.value not in known:
            raise _fail(path, key, f"unknown section {key.value!r} (known: {sorted(known)})")
    if "sequences" not in sections:
        raise TranslitTableError(f"{path}:1: no 'sequences' section")
    sequences = _readings(path, sections["sequences"], "sequences")
    extra = {}
    for name in ("word_start", "word_end"):
        extra[name] = _readings(path, sections[name], name) if name in sections else {}
        for key, _ in sections[name].value if name in sections else ():
            if str(key.value).lower() not in sequences:
                raise _fail(path, key, f"{name}: {key.value!r} is not in sequences")
    soft = sections.get("soft_after")
    be = sections.get("belarusian_words")
    return TranslitTable(
        sequences=sequences,
        word_start=extra["word_start"],
        word_end=extra["word_end"],
        soft_after=frozenset(_strings(path, soft, "soft_after") if soft else ()),
        belarusian_words=frozenset(_strings(path, be, "belarusian_words") if be else ()),
    )


@cache
def _table() -> TranslitTable:
    return load_table()


@cache
def _frequencies(lang: str) -> dict[str, float]:
    # wordfreq's own lookups re-tokenise every word; the plain dict is ~100x faster
    return get_frequency_dict(lang)


def warm_up() -> None:
    """Read the table and the word lists now (about a second), not in a subscriber's first
    message; a broken table stops the start-up."""
    _table()
    for lang in ("ru", "en"):
        _frequencies(lang)


def _zipf(word: str, lang: str) -> float:
    freq = _frequencies(lang).get(word)
    return round(math.log10(freq) + 9, 2) if freq else 0.0


def _cyrillic_score(word: str, be_score: float = _BE_SCORE) -> float:
    ru = _zipf(word, "ru") or _zipf(word.replace("ё", "е"), "ru")
    return max(ru, be_score if word in _table().belarusian_words else 0.0)


# -- transliteration -------------------------------------------------------------------------


def _candidates(word: str, table: TranslitTable) -> list[str]:
    """Every Cyrillic reading of a lower-case Latin word (the usual one first), [] if some
    character has none."""
    out = [""]
    i, n = 0, len(word)
    while i < n:
        key = next(
            (word[i : i + k] for k in range(min(table.longest, n - i), 0, -1)
             if word[i : i + k] in table.sequences),
            None,
        )
        if key is None:
            return []
        j = i + len(key)
        options = table.sequences[key]
        if j == n and key in table.word_end:
            options = table.word_end[key]
        elif i == 0 and key in table.word_start:
            options = table.word_start[key]
        if key in table.soft_after and (j == n or (word[j].isalpha() and word[j] not in _VOWELS)):
            options = (*options, *(o + "ь" for o in options))
        out = [c + o for c in out for o in options][:_CAP]
        i = j
    return out


def _best(readings: list[str], be_score: float) -> tuple[str, float]:
    best, score = readings[0], 0.0
    for reading in readings:
        s = _cyrillic_score(reading, be_score)
        if s > score:
            best, score = reading, s
    return best, score


def _collapse_options(word: str) -> list[str]:
    """A word with runs of 3+ of one letter: each run as one letter or as two."""
    parts = re.split(r"((\w)\2{2,})", word)
    variants = [""]
    for index, part in enumerate(parts):
        if index % 3 == 2:
            continue  # the backreference group
        if index % 3 == 1:
            variants = [v + part[0] * k for v in variants for k in (1, 2)][:_CAP]
        else:
            variants = [v + part for v in variants]
    return variants


_RUN = re.compile(r"([^\W\d_])\1{2,}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Word:
    collapsed: str  # repeated letters collapsed, case kept
    cyrillic: str  # best reading, lower case ("" when none)
    ru: float
    en: float


def _case_like(reading: str, original: str) -> str:
    letters = [c for c in original if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return reading.upper()
    if letters and letters[0].isupper():
        return reading[:1].upper() + reading[1:]
    return reading


@cache
def _latin_word(token: str, be_score: float = _BE_SCORE) -> _Word:
    table = _table()
    variants = _collapse_options(token) if _RUN.search(token) else [token]
    best: _Word | None = None
    for variant in variants:
        lower = variant.lower()
        readings = _candidates(lower, table) if _convertible(variant) else []
        cyrillic, ru = _best(readings, be_score) if readings else ("", 0.0)
        word = _Word(variant, cyrillic, ru, _zipf(lower, "en"))
        if best is None or max(word.ru, word.en) > max(best.ru, best.en):
            best = word
    assert best is not None
    if len(variants) > 1 and max(best.ru, best.en) == 0.0:
        best = _latin_word(_RUN.sub(r"\1", token), be_score)  # no known word: one per run
    return best


def _convertible(token: str) -> bool:
    letters = sum(c.isalpha() for c in token)
    if not letters or any(c.isdigit() and c not in "46" for c in token):
        return False
    return not (token.isupper() and letters <= 4 and len(token) > 1)  # SIM, PUK, SMS


def _cyrillic_word(token: str) -> str:
    if not _RUN.search(token):
        return token
    best = max(_collapse_options(token), key=lambda v: _cyrillic_score(v.lower()))
    if _cyrillic_score(best.lower()) == 0.0:
        return _RUN.sub(r"\1", token)
    return best


# -- scanning --------------------------------------------------------------------------------

_EMOJI = (
    "\U0001f000-\U0001faff\u2600-\u27bf\u2300-\u23ff\u2b00-\u2bff\u2190-\u21ff"
    "\ufe0f\u200d\u20e3\U000e0020-\U000e007f\u3030\u303d\u3297\u3299"
)
_L = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_TOKEN = re.compile(
    rf"""
    (?P<keep>(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|@\w+|[*#][\d*#]*)
    |(?P<emoticon>[:;=][-'^]?[()\[\]DPpOo3*/\\|]+(?![\w])|(?<![\w])[xX]D+(?![\w])|<3+
      |\^_*\^|(?<![\w])-_+-(?![\w])|(?<![\w])T_T(?![\w])|\){{2,}}|\({{2,}})
    |(?P<latin>[{_L}0-9](?:[{_L}0-9]|['’](?=[{_L}]))*(?:['’](?![\w]))?)
    |(?P<cyrillic>[\u0400-\u04ff]+)
    |(?P<punct>!{{2,}}|\?{{2,}}|\.{{4,}})
    |(?P<emoji>[{_EMOJI}]+)
    |(?P<paren>[()])
    |(?P<space>\s+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Piece:
    out: str
    start: int  # in the original
    end: int


@dataclass(frozen=True, slots=True)
class Normalized:
    """``text_for_nlu`` with the way back to the ``original`` (see :meth:`to_original`)."""

    text_for_nlu: str
    lang_hint: str | None
    changes: tuple[str, ...]
    original: str = ""
    pieces: tuple[_Piece, ...] = ()

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original that ``text_for_nlu[start:end]`` came from (exact in
        unchanged stretches, whole words where a word was rewritten)."""
        if not self.pieces:
            return start, end
        at, lo, hi = 0, None, None
        for piece in self.pieces:
            p_start, p_end, at = at, at + len(piece.out), at + len(piece.out)
            if p_end <= start or p_start >= end or p_start == p_end:
                continue
            same = piece.out == self.original[piece.start : piece.end]
            s = piece.start + (max(start, p_start) - p_start if same else 0)
            e = piece.start + (min(end, p_end) - p_start) if same else piece.end
            lo = s if lo is None else min(lo, s)
            hi = e if hi is None else max(hi, e)
        if lo is None or hi is None:
            return start, end
        return lo, hi


def _scan(text: str) -> Iterator[tuple[str, str, int, int]]:
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group(), match.start(), match.end()


def normalize(text: str) -> Normalized:
    """The text the NLU should read; see the module doc."""
    tokens = list(_scan(text))
    words = {value: _latin_word(value) for kind, value, _, _ in tokens if kind == "latin"}
    vote = sum(
        max(-_VOTE_CLIP, min(_VOTE_CLIP, w.ru - w.en))
        for w in words.values()
        if sum(c.isalpha() for c in w.collapsed) >= 3 and w.cyrillic and max(w.ru, w.en) > 0
        and (w.ru >= _RARE or w.ru < w.en)  # a rare Cyrillic reading ("тнк") is no evidence
    )
    translit = vote >= _TRANSLIT_AT
    if translit and detect_language(_converted(tokens, words)) == "be":
        # Belarusian words are missing from wordfreq: in a Belarusian message they come first
        words = {value: _latin_word(value, _BE_SCORE_IN_BE) for value in words}
    changes: set[str] = set()
    pieces: list[_Piece] = []
    removed = False
    for kind, value, start, end in tokens:
        out = value
        if kind == "latin":
            word = words[value]
            out = word.collapsed
            if translit and word.cyrillic and not _stays_english(word):
                out = _case_like(word.cyrillic, word.collapsed)
                changes.add("translit")
        elif kind == "cyrillic":
            out = _cyrillic_word(value)
        elif kind == "punct":
            out = "..." if value[0] == "." else value[0]
        elif kind in ("emoji", "emoticon") or (kind == "paren" and _smile(value, text)):
            out = ""
            changes.add("emoji")
        if kind in ("latin", "cyrillic") and out.lower() != value.lower() and (
            len(out) < len(value) and _RUN.search(value)
        ):
            changes.add("repeats")
        if kind == "punct":
            changes.add("repeats")
        if kind == "space" and removed and (not pieces or _ends_blank(pieces)):
            out = ""
        removed = removed or (out == "" and value != "")
        pieces.append(_Piece(out, start, end))
    result = _strip_pieces(pieces) if removed else "".join(p.out for p in pieces)
    lang = detect_language(result) if "translit" in changes else None
    return Normalized(result, lang, tuple(sorted(changes)), text, tuple(pieces))


def _converted(tokens: list[tuple[str, str, int, int]], words: Mapping[str, _Word]) -> str:
    return " ".join(
        words[value].cyrillic if kind == "latin" and not _stays_english(words[value]) else value
        for kind, value, _, _ in tokens if kind in ("latin", "cyrillic")
    )


def _stays_english(word: _Word) -> bool:
    if sum(c.isalpha() for c in word.collapsed) < 3:
        return False
    return word.en >= word.ru + _CLEARLY_ENGLISH or (word.ru == 0.0 and word.en >= 3.0)


def _smile(paren: str, text: str) -> bool:
    # ")" alone is a smile in Russian chat when nothing opened it; "(" when nothing closes it
    return ("(" not in text) if paren == ")" else (")" not in text)


def _ends_blank(pieces: list[_Piece]) -> bool:
    out = "".join(p.out for p in pieces)
    return not out or out[-1].isspace()


def _strip_pieces(pieces: list[_Piece]) -> str:
    """Blank out whitespace left at either end once emoji were taken out."""
    for order in (range(len(pieces)), range(len(pieces) - 1, -1, -1)):
        for i in order:
            if pieces[i].out and not pieces[i].out.isspace():
                break
            pieces[i] = _Piece("", pieces[i].start, pieces[i].end)
    return "".join(p.out for p in pieces)

