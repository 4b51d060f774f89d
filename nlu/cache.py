"""An in-process LRU cache of parse results, keyed by (model id, normalised text).

Subscribers repeat themselves ("баланс", "Баланс!", "  баланс  "): normalising the text before
looking it up makes those one entry. The model id is part of the key, so a newly trained model
never serves an old model's answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict

from nlu.results import NluResult

__all__ = ["ParseCache", "normalise_text"]

_SPACES = re.compile(r"\s+")
# Five digits or more, spaces and dashes allowed between them: a phone number, a one-time code,
# an account number. Such a text is personal data and is never kept in this cache, which every
# subscriber shares (it is parsed each time instead).
_PERSONAL_DIGITS = re.compile(r"[0-9](?:[ \-()]?[0-9]){4,}")


def _is_edge_junk(ch: str) -> bool:
    # Unicode punctuation (categories P*): "!", "?!", "...", "«»", "—", "*", "#" around a message.
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def normalise_text(text: str) -> str:
    """NFKC, casefold, ё -> е, whitespace collapsed, punctuation around the text stripped."""
    s = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    s = _SPACES.sub(" ", s).strip()
    start, end = 0, len(s)
    while start < end and _is_edge_junk(s[start]):
        start += 1
    while end > start and _is_edge_junk(s[end - 1]):
        end -= 1
    return s[start:end]


class ParseCache:
    """Least-recently-used map of (model id, normalised text) -> :class:`NluResult`."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[tuple[str, str], NluResult] = OrderedDict()

    @staticmethod
    def key(model_id: str, text: str) -> tuple[str, str]:
        return (model_id, normalise_text(text))

    def get(self, model_id: str, text: str) -> NluResult | None:
        """The cached result for ``text`` under ``model_id`` (counted as a hit or a miss)."""
        k = self.key(model_id, text)
        result = self._data.get(k)
        if result is None:
            self.misses += 1
            return None
        self._data.move_to_end(k)
        self.hits += 1
        return result

    @staticmethod
    def keeps(text: str) -> bool:
        """False for texts that may hold personal data (a phone number, a code)."""
        return _PERSONAL_DIGITS.search(unicodedata.normalize("NFKC", text)) is None

    def put(self, model_id: str, text: str, result: NluResult) -> None:
        if not self.keeps(text):
            return
        k = self.key(model_id, text)
        self._data[k] = result
        self._data.move_to_end(k)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return (
            f"ParseCache(entries={len(self._data)}/{self.max_entries}, "
            f"hits={self.hits}, misses={self.misses})"
        )
