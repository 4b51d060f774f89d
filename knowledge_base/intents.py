"""The intents and entities the knowledge base answers for (a contract with the NLU and the policy)."""

from __future__ import annotations

INTENT_FAMILIES: tuple[str, ...] = (
    "check_balance",
    "my_number",
    "roaming",
    "support_contacts",
    "human_request",
    "complaint",
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "out_of_scope",
)

# The self-service topics the bot can help with (offered on out_of_scope, greet, clarify).
TOPIC_INTENTS: tuple[str, ...] = ("check_balance", "my_number", "roaming", "support_contacts")

# Entities an article may require, ask for, or use in its text.
ENTITIES: frozenset[str] = frozenset({"country"})

LANGUAGES: tuple[str, ...] = ("ru", "en", "be")
FALLBACK_LANGUAGES: tuple[str, ...] = ("ru", "en")


def family_of(intent: str) -> str | None:
    """The family of a fine intent: ``"roaming_trouble"`` -> ``"roaming"``; None when unknown."""
    best: str | None = None
    for family in INTENT_FAMILIES:
        if (intent == family or intent.startswith(family + "_")) and (
            best is None or len(family) > len(best)
        ):
            best = family
    return best


def language_order(lang: str) -> tuple[str, ...]:
    """The languages to try for ``lang``: itself, then Russian, then English."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    first = (code,) if code else ()
    return first + tuple(code for code in FALLBACK_LANGUAGES if code not in first)
