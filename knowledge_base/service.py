"""``KnowledgeBase``: picks and renders answers, phrases, intent labels; looks up countries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from knowledge_base.answers import Answer, AnswerButton
from knowledge_base.commands import CommandMatcher
from knowledge_base.forms import normalise
from knowledge_base.rendering import PERSONAL_VARIABLES, contact_variables, country_variables
from knowledge_base.schema import (
    Article,
    ArticleButton,
    CommandWords,
    Contact,
    Country,
    LocalizedText,
    Phrase,
    Zone,
)
from knowledge_base.templates import placeholder_names, render
from nlu.intents import FALLBACK_INTENT, family_of, intent_family
from nlu.languages import LANGUAGES
from nlu.payload import parse_payload


class KnowledgeBase:
    """The validated knowledge base; build it with ``load_knowledge_base()``."""

    def __init__(
        self,
        *,
        articles: Sequence[Article],
        zones: Sequence[Zone],
        countries: Sequence[Country],
        contacts: Sequence[Contact],
        phrases: Mapping[str, Phrase],
        intent_labels: Mapping[str, LocalizedText],
        country_lookup: Mapping[str, str],
        topics: Sequence[str] = (),
        not_topics: Sequence[str] = (),
        commands: Mapping[str, CommandWords] | None = None,
    ) -> None:
        self._topics = tuple(topics)
        self._not_topics = frozenset(not_topics) | {FALLBACK_INTENT}
        self._articles = tuple(articles)
        self._zones = tuple(zones)
        self._countries = tuple(countries)
        self._contacts = tuple(contacts)
        self._phrases = dict(phrases)
        self._labels = dict(intent_labels)
        self._lookup = dict(country_lookup)
        self._zone_by_id = {zone.id: zone for zone in self._zones}
        self._country_by_name = {country.canonical: country for country in self._countries}
        self._commands = CommandMatcher(commands or {})
        self._by_intent: dict[str, list[Article]] = {}
        self._personal_by_intent: dict[str, list[Article]] = {}
        for article in self._articles:
            into = self._personal_by_intent if article.personal else self._by_intent
            into.setdefault(article.intent, []).append(article)

    @property
    def topics(self) -> tuple[str, ...]:
        """The self-service topics a subscriber is offered, in order (intent families)."""
        return self._topics

    def is_topic(self, intent: str) -> bool:
        """Whether ``intent`` says what the subscriber needs (not "hello", "yes", "a person")."""
        return intent_family(intent) not in self._not_topics

    @property
    def articles(self) -> tuple[Article, ...]:
        return self._articles

    @property
    def zones(self) -> tuple[Zone, ...]:
        return self._zones

    @property
    def countries(self) -> tuple[Country, ...]:
        return self._countries

    def answer(self, intent: str, entities: Mapping[str, str], lang: str) -> Answer | None:
        """The best article for ``intent`` rendered in ``lang``; None when none matches.

        The fine intent's articles come before its family's; among them the articles whose
        ``requires`` are all present, the one requiring the most. A country that is not in the
        knowledge base counts as absent.
        """
        family = family_of(intent)
        if family is None:
            return None
        country = self.country(entities.get("country") or "")
        present = {name for name, value in entities.items() if value and name != "country"}
        if country is not None:
            present.add("country")
        for candidate_intent in dict.fromkeys((intent, family)):
            candidates = [
                article
                for article in self._by_intent.get(candidate_intent, ())
                if set(article.requires) <= present
            ]
            if candidates:
                best = max(candidates, key=lambda article: len(article.requires))
                return self._render(best, country, present, lang)
        return None

    def personal_answer(
        self, intent: str, facts: Mapping[str, str], lang: str
    ) -> Answer | None:
        """The verified subscriber's variant of ``intent`` (``personal: true`` articles), filled
        with ``facts``: values of PERSONAL_VARIABLES and, present when true, the
        PERSONAL_CONDITIONS. An article is a candidate only when every fact it uses is given, so
        with the billing down "your number" is still answered and "your balance" is not (None:
        say so and give the general article). Only ever call it for a verified subscriber."""
        family = family_of(intent)
        if family is None:
            return None
        present = {name for name, value in facts.items() if value}
        for candidate_intent in dict.fromkeys((intent, family)):
            candidates = [
                article
                for article in self._personal_by_intent.get(candidate_intent, ())
                if set(article.requires) <= present and _personal_uses(article, lang) <= present
            ]
            if candidates:
                best = max(candidates, key=lambda article: len(article.requires))
                return self._render(best, None, present, lang, personal=facts)
        return None

    def personal_facts(self, intent: str) -> frozenset[str]:
        """The facts the personal variants of ``intent`` (or its family) use; empty when it has
        none, i.e. the topic is never personal."""
        family = family_of(intent)
        used: set[str] = set()
        for candidate_intent in dict.fromkeys((intent, family)):
            for article in self._personal_by_intent.get(candidate_intent or "", ()):
                used |= set(article.requires)
                for lang in LANGUAGES:
                    used |= _personal_uses(article, lang)
            if used:
                break
        return frozenset(used)

    def command(self, text: str) -> str | None:
        """The command a short message is (``commands.yml``: "кто я" -> "whoami"), or None."""
        return self._commands.match(text)

    def phrase(self, key: str, lang: str, **variables: object) -> str:
        """A system phrase in ``lang`` (fallback ru, en); KeyError for an unknown key.

        ValueError when a variable the phrase declares (e.g. ``position``) is not given.
        """
        phrase = self._phrases.get(key)
        if phrase is None:
            raise KeyError(f"unknown phrase {key!r}")
        used, text = phrase.pick(lang)
        missing = [name for name in phrase.variables if name not in variables]
        if missing and placeholder_names(text) & set(missing):
            raise ValueError(f"phrase {key!r} needs the variables: {', '.join(missing)}")
        values: dict[str, object] = {**contact_variables(self._contacts, used)}
        values.update({name: variables[name] for name in phrase.variables if name in variables})
        return render(text, values)

    def intent_label(self, intent: str, lang: str) -> str:
        """A short label for a button, e.g. "Баланс"; a fine intent without one gets its
        family's label; KeyError for an unknown intent."""
        for candidate in (intent, family_of(intent)):
            if candidate is not None and candidate in self._labels:
                return self._labels[candidate].pick(lang)[1]
        raise KeyError(f"no label for intent {intent!r}")

    def country(self, value: str) -> Country | None:
        """A country by canonical name or any surface form ("польшу", "UAE"), any case."""
        if not value:
            return None
        canonical = self._lookup.get(normalise(value)) or self._lookup.get(
            normalise(value).replace("ё", "е")
        )
        return self._country_by_name.get(canonical) if canonical is not None else None

    def country_lookup(self) -> dict[str, str]:
        """Every surface form (lower case) -> canonical name: the NLU lookup table and synonyms."""
        return dict(self._lookup)

    def _render(
        self,
        article: Article,
        country: Country | None,
        present: set[str],
        lang: str,
        *,
        personal: Mapping[str, str] | None = None,
    ) -> Answer:
        used, text = article.text.pick(lang)
        values: dict[str, object] = {**contact_variables(self._contacts, used)}
        if country is not None:
            values.update(country_variables(country, self._zone_by_id[country.zone], used))
        if personal is not None:
            values.update({name: personal[name] for name in PERSONAL_VARIABLES
                           if name in personal})
        return Answer(
            article_id=article.id,
            text=render(text, values),
            buttons=tuple(self._button(button, used) for button in article.buttons)
            + (self._topic_buttons(used) if article.offers_topics else ()),
            needs_agent=article.needs_agent,
            asks=article.asks if article.asks not in present else None,
            source=article.source,
        )

    def _topic_buttons(self, lang: str) -> tuple[AnswerButton, ...]:
        return tuple(AnswerButton(self.intent_label(t, lang), f"/{t}") for t in self._topics)

    def _button(self, button: ArticleButton, lang: str) -> AnswerButton:
        if button.title is not None:
            return AnswerButton(button.title.pick(lang)[1], button.payload)
        payload = parse_payload(button.payload)
        country = self._country_by_name.get(payload.entities.get("country", ""))
        title = (
            country.name(lang) if country is not None else self.intent_label(payload.intent, lang)
        )
        return AnswerButton(title, button.payload)


def _personal_uses(article: Article, lang: str) -> set[str]:
    """The personal variables the article's text in ``lang`` (as picked) uses."""
    return placeholder_names(article.text.pick(lang)[1]) & set(PERSONAL_VARIABLES)
