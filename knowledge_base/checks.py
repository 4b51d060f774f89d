"""Checks across files: ids, zones, intents, payloads, placeholders, coverage.

Each check returns problems as "FILE:LINE: FIELD: MESSAGE"; ``check_sources`` runs them all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from knowledge_base.commands import normalise_command
from knowledge_base.lookup import Collision
from knowledge_base.parsing import Parsed
from knowledge_base.phrase_keys import PHRASE_KEYS
from knowledge_base.rendering import (
    CONTACTS_LIST,
    COUNTRY_VARIABLES,
    EXAMPLE_VARIABLES,
    PERSONAL_CONDITIONS,
    PERSONAL_VARIABLES,
)
from knowledge_base.schema import (
    COMMAND_NAMES,
    CommandsFile,
    ContactsFile,
    CountriesFile,
    IntentLabelsFile,
    PhrasesFile,
)
from knowledge_base.sources import Sources
from knowledge_base.templates import scan
from knowledge_base.yaml_doc import Loc, YamlDocument, display_path
from nlu.intents import entities, families, family_of
from nlu.languages import LANGUAGES
from nlu.payload import parse_payload

INTENT_FAMILIES: tuple[str, ...] = families()  # from the NLU domain, the intents' one owner
ENTITIES: tuple[str, ...] = entities()

# The phrases the code asks for (kb.phrase): exactly the one list in phrase_keys.py.
REQUIRED_PHRASES: tuple[str, ...] = PHRASE_KEYS


@dataclass(frozen=True)
class _Context:
    contact_names: frozenset[str]
    countries: frozenset[str]
    labelled: frozenset[str]


def check_sources(sources: Sources, collisions: Iterable[Collision]) -> list[str]:
    context = _Context(
        contact_names=frozenset(c.id for c in sources.contacts.model.contacts) | {CONTACTS_LIST},
        countries=frozenset(c.canonical for c in sources.countries.model.countries),
        labelled=frozenset(sources.labels.model.intent_labels),
    )
    return [
        *check_countries(sources.countries, collisions),
        *check_contacts(sources.contacts),
        *check_articles(sources, context),
        *check_phrases(sources.phrases, context.contact_names),
        *check_labels(sources.labels, sources),
        *check_commands(sources.commands),
    ]


def check_countries(parsed: Parsed[CountriesFile], collisions: Iterable[Collision]) -> list[str]:
    doc, model = parsed.doc, parsed.model
    problems: list[str] = []
    zones: dict[str, int] = {}
    for index, zone in enumerate(model.zones):
        if zone.id in zones:
            first = doc.line(("zones", zones[zone.id]))
            problems.append(
                doc.problem(("zones", index, "id"), f"duplicate zone id {zone.id!r} (line {first})")
            )
        zones.setdefault(zone.id, index)
    seen: dict[str, int] = {}
    for index, country in enumerate(model.countries):
        loc: Loc = ("countries", index)
        if country.canonical in seen:
            first = doc.line(("countries", seen[country.canonical]))
            problems.append(
                doc.problem(
                    (*loc, "canonical"), f"duplicate country {country.canonical!r} (line {first})"
                )
            )
        seen.setdefault(country.canonical, index)
        if country.zone not in zones:
            problems.append(
                doc.problem(
                    (*loc, "zone"), f"unknown zone {country.zone!r}; zones: {', '.join(zones)}"
                )
            )
    for collision in collisions:
        problems.append(
            doc.problem(
                ("countries", collision.index),
                f"the form {collision.form!r} also names {collision.other!r}",
            )
        )
    return problems


def check_contacts(parsed: Parsed[ContactsFile]) -> list[str]:
    doc = parsed.doc
    problems: list[str] = []
    seen: set[str] = set()
    reserved = {CONTACTS_LIST, *COUNTRY_VARIABLES}
    for index, contact in enumerate(parsed.model.contacts):
        loc: Loc = ("contacts", index, "id")
        if contact.id in seen:
            problems.append(doc.problem(loc, f"duplicate contact id {contact.id!r}"))
        if contact.id in reserved:
            problems.append(doc.problem(loc, f"{contact.id!r} is a reserved placeholder name"))
        seen.add(contact.id)
    return problems


def check_articles(sources: Sources, context: _Context) -> list[str]:
    problems: list[str] = []
    ids: dict[str, str] = {}
    variants: dict[tuple[str, frozenset[str], bool], str] = {}
    for parsed in sources.articles:
        doc = parsed.doc
        for index, article in enumerate(parsed.model.articles):
            loc: Loc = ("articles", index)
            if article.id in ids:
                problems.append(
                    doc.problem(
                        (*loc, "id"),
                        f"duplicate article id {article.id!r} (first at {ids[article.id]})",
                    )
                )
            ids.setdefault(article.id, doc.place((*loc, "id")))
            problems += _check_intent(doc, (*loc, "intent"), article.intent)
            for position, entity in enumerate(article.requires):
                if not (article.personal and entity in PERSONAL_CONDITIONS):
                    problems += _check_entity(doc, (*loc, "requires", position), entity,
                                              personal=article.personal)
            if article.asks is not None:
                problems += _check_entity(doc, (*loc, "asks"), article.asks)
            key = (article.intent, frozenset(article.requires), article.personal)
            if key in variants:
                problems.append(
                    doc.problem(
                        loc,
                        f"article {article.id!r} answers the same intent "
                        f"with the same `requires` as {variants[key]!r}",
                    )
                )
            variants.setdefault(key, article.id)
            allowed = set(context.contact_names)
            if "country" in article.requires:
                allowed |= set(COUNTRY_VARIABLES)
            if article.personal:
                allowed |= set(PERSONAL_VARIABLES)
            for lang in LANGUAGES:
                problems += _check_text(
                    doc, (*loc, "text", lang), allowed, seed=article.source == "seed"
                )
            for position, button in enumerate(article.buttons):
                button_loc: Loc = (*loc, "buttons", position, "payload")
                problems += _check_payload(
                    doc, button_loc, button.payload, context, needs_label=button.title is None
                )
    unconditional = {
        article.intent
        for parsed in sources.articles
        for article in parsed.model.articles
        if not article.requires and not article.personal
    }
    for family in INTENT_FAMILIES:
        if family not in unconditional:
            problems.append(
                f"{display_path(sources.articles_dir)}: intent {family!r}: "
                "no article answers it without `requires`"
            )
    return problems


def check_phrases(parsed: Parsed[PhrasesFile], contact_names: Collection[str]) -> list[str]:
    doc, phrases = parsed.doc, parsed.model.phrases
    problems = [
        doc.problem(("phrases",), f"missing phrase {key!r}")
        for key in REQUIRED_PHRASES
        if key not in phrases
    ]
    for key, phrase in phrases.items():
        for position, variable in enumerate(phrase.variables):
            if variable in contact_names:
                problems.append(
                    doc.problem(
                        ("phrases", key, "variables", position),
                        f"{variable!r} is a support number placeholder",
                    )
                )
        allowed = {*contact_names, *phrase.variables}
        for lang in LANGUAGES:
            problems += _check_text(doc, ("phrases", key, lang), allowed, seed=False)
    return problems


def check_commands(parsed: Parsed[CommandsFile]) -> list[str]:
    doc, commands = parsed.doc, parsed.model.commands
    problems = [
        doc.problem(("commands",), f"missing command {name!r}")
        for name in COMMAND_NAMES
        if name not in commands
    ]
    owner: dict[str, str] = {}
    for name, words in commands.items():
        for lang in LANGUAGES:
            for position, word in enumerate(getattr(words, lang)):
                key = normalise_command(word)
                loc: Loc = ("commands", name, lang, position)
                if not key:
                    problems.append(doc.problem(loc, f"{word!r} has no letters or digits"))
                elif owner.setdefault(key, name) != name:
                    problems.append(doc.problem(loc, f"{word!r} is also a word of "
                                                     f"{owner[key]!r}"))
    return problems


def check_labels(parsed: Parsed[IntentLabelsFile], sources: Sources) -> list[str]:
    doc, labels = parsed.doc, parsed.model.intent_labels
    problems = [
        doc.problem((field, position), f"{name!r} is not an intent family of the NLU domain")
        for field in ("topics", "not_topics")
        for position, name in enumerate(getattr(parsed.model, field))
        if name not in INTENT_FAMILIES
    ]
    problems += [
        doc.problem(("intent_labels", key), f"unknown intent {key!r}")
        for key in labels
        if family_of(key) is None
    ]
    intents = dict.fromkeys(INTENT_FAMILIES)
    intents.update(dict.fromkeys(a.intent for p in sources.articles for a in p.model.articles))
    problems += [
        doc.problem(("intent_labels",), f"missing label for intent {intent!r}")
        for intent in intents
        if intent not in labels and family_of(intent) is not None
    ]
    return problems


def _check_intent(doc: YamlDocument, loc: Loc, intent: str) -> list[str]:
    if family_of(intent) is None:
        return [
            doc.problem(
                loc,
                f"unknown intent {intent!r}: it must be one of the "
                f"families ({', '.join(INTENT_FAMILIES)}) or start with one and '_'",
            )
        ]
    return []


def _check_entity(
    doc: YamlDocument, loc: Loc, entity: str, *, personal: bool = False
) -> list[str]:
    if entity not in ENTITIES:
        known = (*ENTITIES, *PERSONAL_CONDITIONS) if personal else ENTITIES
        hint = "" if personal or entity not in PERSONAL_CONDITIONS else (
            " (a personal condition: only in an article with `personal: true`)"
        )
        return [doc.problem(loc, f"unknown entity {entity!r}; entities: {', '.join(known)}{hint}")]
    return []


def _check_payload(
    doc: YamlDocument, loc: Loc, text: str, context: _Context, *, needs_label: bool = False
) -> list[str]:
    payload = parse_payload(text)
    problems = _check_intent(doc, loc, payload.intent)
    family = family_of(payload.intent)
    if needs_label and not {payload.intent, family} & context.labelled:
        problems.append(
            doc.problem(loc, f"the button has no title and intent {payload.intent!r} has no label")
        )
    for name, value in payload.entities.items():
        problems += _check_entity(doc, loc, name)
        if name == "country" and value not in context.countries:
            problems.append(
                doc.problem(
                    loc, f"unknown country {value!r} in the payload (use the canonical name)"
                )
            )
    return problems


def _check_text(doc: YamlDocument, loc: Loc, allowed: Collection[str], *, seed: bool) -> list[str]:
    text = doc.get(loc)
    if not isinstance(text, str):
        return []
    placeholders, malformed = scan(text)
    problems = [
        doc.problem(loc, bad.message, line=doc.line_in_text(loc, bad.offset)) for bad in malformed
    ]
    needs_country: dict[str, int] = {}
    for placeholder in placeholders:
        name, line = placeholder.name, doc.line_in_text(loc, placeholder.offset)
        if name in COUNTRY_VARIABLES and name not in allowed:
            needs_country.setdefault(name, line)
            continue
        if name not in allowed:
            message = f"unknown placeholder {{{name}}}; known: {', '.join(sorted(allowed))}"
        elif seed and name in EXAMPLE_VARIABLES:
            message = f"placeholder {{{name}}} is example data but the source is 'seed'"
        else:
            continue
        problems.append(doc.problem(loc, message, line=line))
    if needs_country:
        names = ", ".join(f"{{{name}}}" for name in needs_country)
        verb = "placeholders {} need" if len(needs_country) > 1 else "placeholder {} needs"
        problems.append(
            doc.problem(
                loc,
                f"{verb.format(names)} `requires: [country]`",
                line=min(needs_country.values()),
            )
        )
    return problems
