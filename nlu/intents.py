"""The intents the model predicts, read from the Rasa domain (``nlu/domain.yml``): its one owner.

An intent whose name is another intent's name plus ``_suffix`` is a *fine* intent of that
*family* (``roaming_trouble`` belongs to ``roaming``); the bot answers a family, and the Rasa
data can split an intent without any code noticing. Adding an intent family is a line in the
domain plus its data (training examples, a label and articles in the knowledge base, which
checks that it knows every family).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DOMAIN_FILE = Path(__file__).resolve().parent / "domain.yml"
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier


class DomainError(ValueError):
    """The domain file is missing or does not list intents."""


@cache
def _domain() -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        data: Any = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DomainError(f"{DOMAIN_FILE}: cannot read the NLU domain: {exc}") from exc
    raw = data.get("intents") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw or not all(isinstance(i, str) for i in raw):
        raise DomainError(f"{DOMAIN_FILE}: 'intents' must be a non-empty list of names")
    entities = data.get("entities") or []
    return tuple(raw), tuple(str(e) for e in entities)


def all_intents() -> tuple[str, ...]:
    """Every intent of the domain, families and fine intents, in the domain's order."""
    return _domain()[0]


def entities() -> tuple[str, ...]:
    return _domain()[1]


@cache  # the domain is read once; this runs for every message
def families() -> tuple[str, ...]:
    """The intents that are no other intent's fine intent."""
    intents = all_intents()
    return tuple(i for i in intents if not any(i.startswith(f + "_") for f in intents if f != i))


@cache
def family_of(intent: str) -> str | None:
    """``"roaming_trouble"`` -> ``"roaming"``; the family itself for a family; None if unknown."""
    if intent == FALLBACK_INTENT:
        return FALLBACK_INTENT
    best: str | None = None
    for family in families():
        if (intent == family or intent.startswith(family + "_")) and (
            best is None or len(family) > len(best)
        ):
            best = family
    return best


def intent_family(intent: str) -> str:
    """Like :func:`family_of`, but an unknown intent is its own family (a newer model's intent
    is answered as whatever the knowledge base knows of it, never an error)."""
    return family_of(intent) or intent
