"""The values of placeholders: support numbers, countries, zones and prices, per language."""

from __future__ import annotations

from collections.abc import Iterable

from knowledge_base.schema import PRICE_FIELDS, Contact, Country, Zone

CONTACTS_LIST = "contacts"
COUNTRY_VARIABLES: tuple[str, ...] = ("country", "zone", *PRICE_FIELDS)
# A verified subscriber's own facts (personal article variants, `personal: true`): the values the
# bot fills from the verified number and the billing, and the conditions `requires` may name.
PERSONAL_VARIABLES: tuple[str, ...] = ("number", "balance", "tariff")
PERSONAL_CONDITIONS: tuple[str, ...] = ("negative_balance", "roaming_on", "roaming_off")
# Placeholders filled with example data (zones and prices): not allowed in `source: seed` texts.
EXAMPLE_VARIABLES: frozenset[str] = frozenset({"zone", *PRICE_FIELDS})


def format_price(value: float, lang: str) -> str:
    """``1.5`` -> ``"1,50"`` in Russian and Belarusian, ``"1.50"`` in English."""
    text = f"{value:.2f}"
    return text if lang == "en" else text.replace(".", ",")


def contact_variables(contacts: Iterable[Contact], lang: str) -> dict[str, str]:
    """``{phone_abroad: "+375 29 7770890", ..., contacts: "• 0890 — free from ..."}``."""
    contacts = tuple(contacts)
    variables = {contact.id: contact.number for contact in contacts}
    variables[CONTACTS_LIST] = "\n".join(
        f"• {contact.number} — {contact.when.pick(lang)[1]}" for contact in contacts
    )
    return variables


def country_variables(country: Country, zone: Zone, lang: str) -> dict[str, str]:
    variables = {"country": country.name(lang), "zone": zone.name(lang)}
    for name in PRICE_FIELDS:
        variables[name] = format_price(getattr(zone.prices, name), lang)
    return variables
