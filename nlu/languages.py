"""The languages Abonent speaks: the one list every part imports.

Adding a language is this enum plus its data: texts in the knowledge base, training examples,
the sentiment lexicon (each data loader then insists on the new language's texts).
"""

from __future__ import annotations

from enum import StrEnum


class Lang(StrEnum):
    RU = "ru"
    EN = "en"
    BE = "be"


LANGUAGES: tuple[str, ...] = tuple(Lang)
DEFAULT_LANG = Lang.RU  # the operator's main language: no letters, no hint -> Russian
# What a reader of a missing translation gets instead, in order (most subscribers read both).
FALLBACK_LANGS: tuple[str, ...] = (Lang.RU, Lang.EN)


def language_order(lang: str) -> tuple[str, ...]:
    """The languages to try for ``lang``: itself, then the fallbacks (``"be-BY"`` -> be, ru, en)."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    first = (code,) if code else ()
    return first + tuple(fallback for fallback in FALLBACK_LANGS if fallback not in first)
