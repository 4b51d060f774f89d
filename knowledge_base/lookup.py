"""The country lookup: every surface form of every country -> its canonical name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from knowledge_base.forms import plain_forms, russian_forms
from knowledge_base.schema import Country


@dataclass(frozen=True)
class Collision:
    """``form`` of the country at ``index`` already names ``other`` (a canonical name)."""

    index: int
    form: str
    other: str


def country_forms(country: Country) -> set[str]:
    """Lower-case surface forms: canonical, names, aliases; Russian ones in all cases."""
    forms = plain_forms(
        [
            country.canonical,
            country.names.en,
            country.names.be,
            *country.aliases.en,
            *country.aliases.be,
        ]
    )
    for name in (country.names.ru, *country.aliases.ru):
        forms |= russian_forms(name)
    return forms


def build_lookup(countries: Sequence[Country]) -> tuple[dict[str, str], list[Collision]]:
    lookup: dict[str, str] = {}
    collisions: list[Collision] = []
    for index, country in enumerate(countries):
        for form in sorted(country_forms(country)):
            other = lookup.setdefault(form, country.canonical)
            if other != country.canonical:
                collisions.append(Collision(index, form, other))
    return lookup, collisions
