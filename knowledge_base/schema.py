"""The shape of the YAML files (pydantic models, unknown fields refused) and the public records.

``Article``, ``Zone``, ``Country`` and ``Contact`` are what ``KnowledgeBase`` exposes; the
``*File`` models are the root of each YAML file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from nlu.intents import family_of
from nlu.languages import LANGUAGES, language_order
from nlu.payload import parse_payload

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Source = Literal["seed", "example"]
Price = Annotated[float, Field(ge=0)]


def _check_payload(value: str) -> str:
    parse_payload(value)
    return value.strip()


PayloadText = Annotated[str, AfterValidator(_check_payload)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(_Model):
    """A text in Russian and English, and in Belarusian where written."""

    ru: NonEmpty
    en: NonEmpty
    be: NonEmpty | None = None

    def get(self, lang: str) -> str | None:
        value = getattr(self, lang, None) if lang in LANGUAGES else None
        return value if isinstance(value, str) else None

    def pick(self, lang: str) -> tuple[str, str]:
        """``(language, text)`` in ``lang``, falling back to Russian, then English."""
        for code in language_order(lang):
            text = self.get(code)
            if text is not None:
                return code, text
        return "en", self.en


class FullName(LocalizedText):
    """A name that must exist in all three languages."""

    be: NonEmpty


class ArticleButton(_Model):
    """A button; without a title it is labelled with its intent's label."""

    title: LocalizedText | None = None
    payload: PayloadText


class Article(_Model):
    id: Identifier
    intent: Identifier
    requires: tuple[Identifier, ...] = ()
    source: Source
    needs_agent: bool = False
    asks: Identifier | None = None
    text: LocalizedText
    buttons: tuple[ArticleButton, ...] = ()
    offers_topics: bool = False  # the topics of intent_labels.yml follow as buttons
    # a verified subscriber's variant: may use {number} {balance} {tariff} and require
    # negative_balance / roaming_on / roaming_off; never shown to anyone unverified
    personal: bool = False

    @property
    def family(self) -> str | None:
        return family_of(self.intent)


class Prices(_Model):
    """Prices in a zone, BYN: per minute for calls, per message for SMS, per MB for data."""

    call_local: Price
    call_home: Price
    call_incoming: Price
    sms: Price
    data_mb: Price


PRICE_FIELDS: tuple[str, ...] = tuple(Prices.model_fields)


class Zone(_Model):
    id: Identifier
    names: FullName
    source: Source = "example"
    prices: Prices

    def name(self, lang: str) -> str:
        return self.names.pick(lang)[1]


class Aliases(_Model):
    """Extra surface forms per language (Russian ones are inflected in code, others are not)."""

    ru: tuple[NonEmpty, ...] = ()
    en: tuple[NonEmpty, ...] = ()
    be: tuple[NonEmpty, ...] = ()


class Country(_Model):
    canonical: NonEmpty
    names: FullName
    zone: Identifier
    aliases: Aliases = Aliases()

    def name(self, lang: str) -> str:
        return self.names.pick(lang)[1]


class Contact(_Model):
    """A support number; ``id`` is also its placeholder name, e.g. ``{phone_abroad}``."""

    id: Identifier
    number: NonEmpty
    when: LocalizedText
    source: Source


class Phrase(LocalizedText):
    """A system phrase; ``variables`` are the placeholders the caller fills."""

    variables: tuple[Identifier, ...] = ()


class ArticlesFile(_Model):
    articles: tuple[Article, ...] = Field(min_length=1)


class CountriesFile(_Model):
    zones: tuple[Zone, ...] = Field(min_length=1)
    countries: tuple[Country, ...] = Field(min_length=1)


class ContactsFile(_Model):
    contacts: tuple[Contact, ...] = Field(min_length=1)


class PhrasesFile(_Model):
    phrases: dict[Identifier, Phrase]


CommandName = Literal["whoami", "logout", "verify", "cancel"]
COMMAND_NAMES: tuple[str, ...] = ("whoami", "logout", "verify", "cancel")


class CommandWords(_Model):
    """What a subscriber writes for one command, per language (compared after lower-casing and
    dropping punctuation)."""

    ru: tuple[NonEmpty, ...] = Field(min_length=1)
    en: tuple[NonEmpty, ...] = Field(min_length=1)
    be: tuple[NonEmpty, ...] = ()


class CommandsFile(_Model):
    commands: dict[CommandName, CommandWords]


class IntentLabelsFile(_Model):
    topics: tuple[Identifier, ...] = Field(min_length=1)
    not_topics: tuple[Identifier, ...] = ()
    intent_labels: dict[Identifier, LocalizedText]
