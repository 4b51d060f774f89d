"""What the NLU says about one message: intent, its family, confidence, ranking, entities, language.

An :class:`NluResult` is stored with each message (``to_dict`` / ``from_dict`` are JSON-safe) and
is what the dialogue policy reads. Intents are grouped into *families* by name prefix
(``check_balance_negative`` belongs to ``check_balance``: see :mod:`nlu.intents`).

When Rasa's FallbackClassifier answers ``nlu_fallback``, the result keeps that intent (and the
family ``nlu_fallback``) but its ``confidence`` is the best real intent's and its ``ranking`` holds
only the real intents, best first: the bot offers the top two as a clarifying question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nlu.intents import FALLBACK_INTENT, families, intent_family

__all__ = [
    "FALLBACK_INTENT", "FAMILIES", "KEYWORDS_MODEL_ID", "Entity", "IntentScore", "KeywordFallback",
    "NluResult", "intent_family",
]

FAMILIES: tuple[str, ...] = families()
KEYWORDS_MODEL_ID = "keywords"  # the model_id of a result understood by keywords, not by Rasa


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity found in the text: ``value`` is normalised (synonyms mapped), ``text`` is as typed."""

    name: str
    value: str
    text: str
    start: int
    end: int
    extractor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "extractor": self.extractor,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entity:
        return cls(
            name=str(d["name"]),
            value=str(d["value"]),
            text=str(d.get("text", "")),
            start=int(d.get("start", 0)),
            end=int(d.get("end", 0)),
            extractor=d.get("extractor"),
        )


@dataclass(frozen=True, slots=True)
class IntentScore:
    name: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IntentScore:
        return cls(name=str(d["name"]), confidence=float(d["confidence"]))


@dataclass(frozen=True, slots=True)
class NluResult:
    """The understanding of one text. ``lang`` is ours (see :mod:`nlu.lang`), not Rasa's."""

    text: str
    intent: str
    family: str
    confidence: float
    ranking: tuple[IntentScore, ...]
    entities: tuple[Entity, ...]
    lang: str
    model_id: str

    def entities_dict(self) -> dict[str, str]:
        """Entity name -> value (the first one of each name)."""
        out: dict[str, str] = {}
        for e in self.entities:
            out.setdefault(e.name, e.value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "family": self.family,
            "confidence": self.confidence,
            "ranking": [s.to_dict() for s in self.ranking],
            "entities": [e.to_dict() for e in self.entities],
            "lang": self.lang,
            "model_id": self.model_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NluResult:
        intent = str(d["intent"])
        return cls(
            text=str(d["text"]),
            intent=intent,
            family=str(d.get("family") or intent_family(intent)),
            confidence=float(d["confidence"]),
            ranking=tuple(IntentScore.from_dict(s) for s in d.get("ranking", ())),
            entities=tuple(Entity.from_dict(e) for e in d.get("entities", ())),
            lang=str(d["lang"]),
            model_id=str(d.get("model_id", "")),
        )

    @classmethod
    def certain(
        cls, text: str, intent: str, entities: tuple[Entity, ...], *, lang: str, model_id: str
    ) -> NluResult:
        """A result known for sure (a pressed button, a keyword): confidence 1, no rivals."""
        return cls(
            text=text,
            intent=intent,
            family=intent_family(intent),
            confidence=1.0,
            ranking=(IntentScore(intent, 1.0),),
            entities=entities,
            lang=lang,
            model_id=model_id,
        )

    @classmethod
    def from_rasa(
        cls, payload: Mapping[str, Any], *, text: str, lang: str, model_id: str
    ) -> NluResult:
        """Build from a Rasa ``/model/parse`` answer; raises ValueError when it is not one."""
        try:
            return _from_rasa(payload, text=text, lang=lang, model_id=model_id)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a Rasa parse result: {exc!r}") from exc


def _from_rasa(payload: Mapping[str, Any], *, text: str, lang: str, model_id: str) -> NluResult:
    if not isinstance(payload, Mapping):
        raise TypeError(f"expected a JSON object, got {type(payload).__name__}")
    raw_intent = payload.get("intent") or {}
    name = raw_intent.get("name") or FALLBACK_INTENT
    confidence = float(raw_intent.get("confidence") or 0.0)
    ranking = [
        IntentScore(str(s["name"]), float(s.get("confidence") or 0.0))
        for s in payload.get("intent_ranking") or ()
        if s.get("name") and s["name"] != FALLBACK_INTENT
    ]
    ranking.sort(key=lambda s: s.confidence, reverse=True)
    if name == FALLBACK_INTENT:
        confidence = ranking[0].confidence if ranking else 0.0
    elif not ranking:
        ranking = [IntentScore(name, confidence)]
    entities = tuple(_entity(e, text) for e in payload.get("entities") or ())
    return NluResult(
        text=text,
        intent=name,
        family=intent_family(name),
        confidence=confidence,
        ranking=tuple(ranking),
        entities=entities,
        lang=lang,
        model_id=model_id,
    )


def _entity(e: Mapping[str, Any], text: str) -> Entity:
    start, end = int(e.get("start", 0)), int(e.get("end", 0))
    value = e.get("value")
    surface = text[start:end]
    return Entity(
        name=str(e["entity"]),
        value=surface if value is None else str(value),
        text=surface,
        start=start,
        end=end,
        extractor=e.get("extractor"),
    )


class KeywordFallback(Protocol):
    """What the client asks when Rasa gives no understanding (the knowledge base's keywords)."""

    def match(self, text: str, lang: str | None = None) -> NluResult | None: ...
