"""Phone numbers as subscribers type them, turned into the one form the core keeps: E.164.

A number arrives in any common form — "+375 29 123-45-67", "80291234567" (Belarus's trunk
prefix "8 0"), "8 (029) 123-45-67", "291234567", "+7 916 123-45-67", or inside a sentence
("мой номер +375 29 123-45-67, спасибо") — and leaves as "+375291234567" or not at all.

What is accepted, and why (the numbers are for one-time codes by SMS):

- only numbers ``phonenumbers`` calls valid for their country, of type MOBILE or
  FIXED_LINE_OR_MOBILE (countries such as the US do not tell the two apart); a FIXED_LINE,
  toll-free, premium, VoIP... number is refused, since it cannot receive the code;
- without a "+" a number is read in the default region (``PHONE_DEFAULT_REGION``, "BY"), so
  "8 916 123 45 67" is a Russian number only with region "RU", and a Belarusian one without
  "+" is refused in Russia; with a "+" (or "00", written for it) the region does not matter;
- a sentence must hold exactly one such number: two different ones are ambiguous, and asking
  again is better than sending a code to the wrong one; a number glued to letters
  ("abc291234567") is not taken;
- letters inside the number ("1-800-FLOWERS"), control characters (NUL...) and texts longer
  than a message (4096 characters) are refused as a whole. Invisible formatting characters
  (the direction marks phones add when a contact is copied) are dropped first.

Pure functions, no I/O; the result never depends on anything but the arguments.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import Leniency, PhoneNumber, PhoneNumberFormat, PhoneNumberMatcher
from phonenumbers import PhoneNumberType as _Type

__all__ = [
    "DEFAULT_REGION",
    "MAX_TEXT_LENGTH",
    "find_phone",
    "format_phone",
    "is_e164",
    "is_region",
    "mask_phone",
    "msisdn",
    "normalise_phone",
]

DEFAULT_REGION = "BY"
MAX_TEXT_LENGTH = 4096
"""Longer texts are not an answer to "your number?" (Telegram's limit for one message)."""

_SMS_CAPABLE = frozenset({_Type.MOBILE, _Type.FIXED_LINE_OR_MOBILE})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# a bare answer: digits and what people write between them; anything else is a sentence
_BARE = re.compile(r"[\d\s+()./\-\u2010-\u2015\u2212]+")
_KEPT_CONTROLS = frozenset("\t\n\r")


def is_region(code: str) -> bool:
    """True for a two-letter region ``phonenumbers`` knows ("BY", "ru"; not "ZZ", "001")."""
    return isinstance(code, str) and code.upper() in phonenumbers.SUPPORTED_REGIONS


def normalise_phone(text: str, *, region: str = DEFAULT_REGION) -> str | None:
    """The one SMS-capable number in ``text`` as E.164 ("+375291234567"), or None.

    ``text`` is a bare number or a sentence holding one. Never raises on any text; raises
    ValueError for an unknown ``region`` (a setting's mistake, not the subscriber's).
    """
    region = _checked_region(region)
    cleaned = _clean(text)
    if cleaned is None:
        return None
    stripped = cleaned.strip()
    if not stripped:
        return None
    if _BARE.fullmatch(stripped):
        return _from_bare(stripped, region)
    return _from_sentence(cleaned, region)


find_phone = normalise_phone
"""The same function under the name a caller reading free text may look for."""


def is_e164(value: str) -> bool:
    """True for "+" and 7 to 15 digits that ``phonenumbers`` reads back as the same string.

    A shape check (what a gateway or billing accepts), not a validity check: a number of a
    range newer than the installed metadata still passes."""
    if not isinstance(value, str) or not _E164.fullmatch(value):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) == value


def msisdn(e164: str) -> str:
    """"+375291234567" -> "375291234567" (what the billing's URLs carry).

    Raises ValueError, without repeating the value, when it is not E.164."""
    if not is_e164(e164):
        raise ValueError("not an E.164 phone number (expected '+' and digits)")
    return e164[1:]


def format_phone(e164: str) -> str:
    """A verified number, readable: "+375 29 123-45-67". For the subscriber themself and the
    agent's card (agents act on the number, as the hotline does); logs get :func:`mask_phone`.
    Raises ValueError for non-E.164."""
    if not is_e164(e164):
        raise ValueError("not an E.164 phone number (expected '+' and digits)")
    return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                      PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str) -> str:
    """"+375291234567" -> "+375 29 ***-**-67": country and operator codes and the last two
    digits, for logs and cards. Never raises: anything that is not E.164 becomes "***"."""
    if not is_e164(e164):
        return "***"
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.national_significant_number(number)
    shown = phonenumbers.length_of_national_destination_code(number)
    if len(national) - shown - 2 < 3:  # too short to show the operator and still hide enough
        shown = 0
    keep = len(str(number.country_code)) + shown
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    last = sum(char.isdigit() for char in formatted) - 2  # the first of the last two digits
    out: list[str] = []
    seen = 0
    for char in formatted:
        if char.isdigit():
            out.append(char if seen < keep or seen >= last else "*")
            seen += 1
        else:
            out.append(char)
    return "".join(out)


# -- internals ---------------------------------------------------------------------------------

def _checked_region(region: str) -> str:
    if not is_region(region):
        raise ValueError(f"unknown phone region {region!r}: use a two-letter code such as 'BY'")
    return region.upper()


def _clean(text: object) -> str | None:
    """``text`` without invisible formatting characters, or None when it cannot be a number."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        return None
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":  # LRM, zero-width space...: invisible, added by apps
            continue
        if category in ("Cc", "Cs", "Co", "Cn") and char not in _KEPT_CONTROLS:
            return None  # NUL and friends, lone surrogates: not typed by a person
        kept.append(char)
    return "".join(kept)


def _from_bare(text: str, region: str) -> str | None:
    if text.count("+") > 1 or ("+" in text and not text.lstrip("(").startswith("+")):
        return None
    e164 = _e164_if_sms_capable(_parse(text, region))
    if e164 is None and text.startswith("00"):
        # "00" is the international prefix in most of the world, though not in Belarus
        e164 = _e164_if_sms_capable(_parse("+" + text[2:], region))
    return e164


def _from_sentence(text: str, region: str) -> str | None:
    found: set[str] = set()
    # POSSIBLE, not VALID: VALID wants Belarus's trunk prefix ("8 0") on national numbers, so
    # it would miss "мой номер 291234567"; validity and type are checked here instead
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
        if _glued_to_letters(text, match.start, match.end):
            continue
        e164 = _e164_if_sms_capable(match.number)
        if e164 is not None:
            found.add(e164)
    return found.pop() if len(found) == 1 else None


def _glued_to_letters(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha())


def _parse(text: str, region: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _e164_if_sms_capable(number: PhoneNumber | None) -> str | None:
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
