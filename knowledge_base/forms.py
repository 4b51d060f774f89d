"""Surface forms of country names: Russian case forms (pymorphy3), ё/е and apostrophe variants.

Russian names are written once, in the nominative; here they get their six cases (and the case
variants pymorphy3 knows, e.g. "Польшею"): "Польша" -> польша, польши, польше, польшу, польшей,
польшею. In a multi-word name the leading adjectives and the head noun are inflected and the rest
is kept: "Соединённые Штаты Америки" -> "соединённых штатах америки". Belarusian has no
morphology package, so its case forms are listed as aliases in the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pymorphy3
from pymorphy3.analyzer import Parse

CASES: tuple[str, ...] = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_AGREEING = frozenset({"ADJF", "PRTF", "NUMR"})
_APOSTROPHES = ("\u2019", "\u02bc", "`", "\u2018")


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def normalise(text: str) -> str:
    """Lower case, single spaces, straight apostrophes: the key of the country lookup."""
    text = " ".join(text.lower().split())
    for mark in _APOSTROPHES:
        text = text.replace(mark, "'")
    return text


def variants(form: str) -> set[str]:
    """``form`` and, when it has ё, its spelling with е."""
    form = normalise(form)
    return {form, form.replace("ё", "е")}


def _nominative_parse(word: str) -> Parse | None:
    parses = _morph().parse(word)
    nominative = [p for p in parses if "nomn" in p.tag and p.tag.POS in _AGREEING | {"NOUN"}]
    if not nominative:
        return None
    geographic = [p for p in nominative if "Geox" in p.tag]
    return (geographic or nominative)[0]


def _inflect(parse: Parse, case: str) -> str | None:
    if "Fixd" in parse.tag:
        return str(parse.word)
    if (
        case == "accs"
        and parse.tag.POS in _AGREEING
        and (parse.tag.number == "plur" or parse.tag.gender in ("masc", "neut"))
    ):
        # Country names are inanimate, so these adjectives keep their nominative form:
        # "в Объединённые Арабские Эмираты", not "в Объединённых Арабских Эмираты".
        return str(parse.word)
    inflected = parse.inflect({case})
    return inflected.word if inflected is not None else None


def _single_word_forms(word: str) -> set[str]:
    parse = _nominative_parse(word)
    if parse is None or "Fixd" in parse.tag:
        return {word.lower()}
    number = parse.tag.number
    forms = {word.lower()}
    for form in parse.lexeme:
        if form.tag.number == number and form.tag.case is not None:
            forms.add(form.word)
    return forms


def _phrase_forms(words: list[str]) -> set[str]:
    # Inflect leading adjectives/participles and the first noun; keep what follows the noun.
    parses: list[Parse | None] = []
    for word in words:
        parse = _nominative_parse(word)
        parses.append(parse)
        if parse is None or parse.tag.POS == "NOUN":
            break
    forms = {" ".join(words).lower()}
    for case in CASES:
        inflected: list[str] = []
        for index, word in enumerate(words):
            parse = parses[index] if index < len(parses) else None
            new = _inflect(parse, case) if parse is not None else None
            inflected.append(new if new is not None else word.lower())
        forms.add(" ".join(inflected))
    return forms


def russian_forms(name: str) -> set[str]:
    """The case forms of a Russian name (lower case, with ё/е variants)."""
    words = name.split()
    if not words:
        return set()
    raw = _single_word_forms(words[0]) if len(words) == 1 else _phrase_forms(words)
    return {variant for form in raw for variant in variants(form)}


def plain_forms(names: Iterable[str]) -> set[str]:
    """Forms taken as written (English, Belarusian): normalised, with ё/е variants."""
    return {variant for name in names for variant in variants(name)}
