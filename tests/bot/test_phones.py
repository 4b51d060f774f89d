"""Phone numbers as subscribers type them: Belarusian, Russian and international forms in, E.164
out; garbage, landlines and other regions' numbers without "+" refused; masks for logs."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.phones import (
    MAX_TEXT_LENGTH,
    find_phone,
    format_phone,
    is_e164,
    is_region,
    mask_phone,
    msisdn,
    normalise_phone,
)

MTS = "+375291234567"


@pytest.mark.parametrize("text", [
    "+375 29 123-45-67",
    "+375291234567",
    "375291234567",
    "375 29 123 45 67",
    "80291234567",
    "8 029 123 45 67",
    "8 (029) 123-45-67",
    "8-029-123-45-67",
    "291234567",
    "29 123-45-67",
    "(29) 123 45 67",
    "(029) 123-45-67",
    "+375 (29) 123-45-67",
    "00375291234567",  # "00" for "+", as most of the world dials abroad
    "  +375 29 123-45-67\n",
    "+375\u00a029\u00a0123\u201145\u201167",  # no-break spaces and hyphens from a phone's app
    "\u202a+375 29 123-45-67\u202c",  # direction marks added when a contact is copied
    "\u200b291234567",
])
def test_belarusian_forms(text: str) -> None:
    assert normalise_phone(text) == MTS


@pytest.mark.parametrize(("text", "expected"), [
    ("+375 25 512-34-56", "+375255123456"),  # life:)
    ("80255123456", "+375255123456"),
    ("+375 29 712-34-56", "+375297123456"),  # A1 / MTS
    ("8 033 312 34 56", "+375333123456"),  # MTS
    ("(44) 712-34-56", "+375447123456"),  # A1
])
def test_each_belarusian_operator(text: str, expected: str) -> None:
    assert normalise_phone(text) == expected


@pytest.mark.parametrize("text", [
    "мой номер +375 29 123-45-67, спасибо",
    "Мой номер: 8 (029) 123-45-67.",
    "номер 80291234567 пожалуйста",
    "вот 291234567",
    "my number is (29) 123 45 67!",
    "📞 +375 29 123-45-67",
    "звоните 8017 123-45-67 или 80291234567",  # the landline is not a candidate for SMS
    "291234567, да, 291234567",  # the same number twice is still one number
])
def test_a_number_inside_a_sentence(text: str) -> None:
    assert normalise_phone(text) == MTS
    assert find_phone(text) == MTS


@pytest.mark.parametrize("text", [
    "+7 916 123-45-67",
    "+79161234567",
    "8 916 123 45 67",
    "89161234567",
    "8 (916) 123-45-67",
    "9161234567",
    "мой номер 8 916 123-45-67",
])
def test_russian_forms_with_region_ru(text: str) -> None:
    assert normalise_phone(text, region="RU") == "+79161234567"


def test_a_russian_number_without_plus_is_not_belarusian() -> None:
    assert normalise_phone("8 916 123 45 67") is None
    assert normalise_phone("89161234567", region="BY") is None
    assert normalise_phone("+7 916 123-45-67", region="BY") == "+79161234567"


def test_a_belarusian_number_without_plus_is_not_russian() -> None:
    assert normalise_phone("80291234567", region="RU") is None
    assert normalise_phone("375291234567", region="RU") is None
    assert normalise_phone("+375 29 123-45-67", region="RU") == MTS


@pytest.mark.parametrize(("text", "expected"), [
    ("+48 512 345 678", "+48512345678"),
    ("+44 7911 123456", "+447911123456"),
    ("+49 151 12345678", "+4915112345678"),
    ("+1 650 253 0000", "+16502530000"),  # FIXED_LINE_OR_MOBILE: the US does not tell
    ("call me on +48 512 345 678 please", "+48512345678"),
])
def test_international_forms(text: str, expected: str) -> None:
    assert normalise_phone(text) == expected


@pytest.mark.parametrize("text", [
    "+375 17 123-45-67",  # Minsk landline
    "80171234567",
    "8 (017) 123-45-67",
    "+7 495 123-45-67",  # Moscow landline
    "+44 20 7946 0958",  # London landline
    "+44 800 123 4567",  # toll free
])
def test_landlines_and_other_types_are_refused_for_sms(text: str) -> None:
    assert phonenumbers.is_valid_number(phonenumbers.parse(text, "BY"))  # valid, just not mobile
    assert normalise_phone(text) is None


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "123",
    "abc",
    "+375 29 123",
    "8029",
    "+375 29",
    "2912345678",  # one digit too many
    "29123456",  # one too few
    "+375 29 012-34-56",  # no such range
    "5" * 50,
    "+" + "3" * 49,
    "291234567" * 3,
    "29.11.2026",
    "12,34 BYN",
    "на счёте 12,34 BYN с 29.11.2026",
    "🙂",
    "📱📱📱",
    "\x00",
    "+375291234567\x00",
    "\x00+375291234567",
    "+37529\x001234567",
    "+375 29 1234ABC",
    "1-800-FLOWERS",
    "+375 29 123-45-67abc",
    "abc291234567",
    "29+1234567",
    "++375291234567",
    "два номера: 291234567 и 331234567",  # ambiguous: ask again, do not guess
    "+375 29 123-45-67 " + "x" * MAX_TEXT_LENGTH,  # not an answer to "your number?"
])
def test_garbage_is_refused(text: str) -> None:
    assert normalise_phone(text) is None


def test_without_plus_the_region_decides() -> None:
    # "9161234567" is Russian in RU and nothing in BY; "291234567" the other way round
    assert normalise_phone("9161234567", region="RU") == "+79161234567"
    assert normalise_phone("9161234567", region="BY") is None
    assert normalise_phone("291234567", region="RU") is None


def test_regions() -> None:
    assert is_region("BY") and is_region("RU") and is_region("PL")
    assert is_region("by")  # settings may be typed in lower case
    for bad in ("", "ZZ", "001", "BYN", "Belarus", "XX"):
        assert not is_region(bad), bad
    assert normalise_phone("291234567", region="by") == MTS
    with pytest.raises(ValueError, match="unknown phone region"):
        normalise_phone("291234567", region="ZZ")


@pytest.mark.parametrize(("e164", "masked"), [
    (MTS, "+375 29 ***-**-67"),
    ("+375255123456", "+375 25 ***-**-56"),
    ("+375447123456", "+375 44 ***-**-56"),
    ("+79161234567", "+7 916 ***-**-67"),
    ("+48512345678", "+48 512 *** *78"),
    ("+447911123456", "+44 7911 ****56"),
])
def test_masks(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked
    hidden = e164[-7:-2]
    assert hidden not in mask_phone(e164).replace(" ", "").replace("-", "")


@pytest.mark.parametrize("bad", ["", "291234567", "375291234567", "+375 29 123-45-67", "abc",
                                 "+", "+0123456789", "+375291234567\n"])
def test_a_mask_of_anything_else_reveals_nothing(bad: str) -> None:
    assert mask_phone(bad) == "***"


def test_msisdn_and_format() -> None:
    assert msisdn(MTS) == "375291234567"
    assert msisdn("+79161234567") == "79161234567"
    assert format_phone(MTS) == "+375 29 123-45-67"
    for bad in ("375291234567", "+375 29 123-45-67", "", "+", "+375291234567 "):
        with pytest.raises(ValueError) as caught:
            msisdn(bad)
        assert "1234567" not in str(caught.value)
        with pytest.raises(ValueError):
            format_phone(bad)


def test_e164_shape() -> None:
    assert is_e164(MTS) and is_e164("+79161234567") and is_e164("+16502530000")
    for bad in ("375291234567", "+375 29 123-45-67", "+0375291234567", "+3752", "+" + "1" * 16,
                "+375291234567\n", "＋375291234567", "+３７５291234567", ""):
        assert not is_e164(bad), bad


# -- properties -----------------------------------------------------------------------------

_PHONE_ALPHABET = st.sampled_from(list("0123456789+-() .\u00a0") + ["80", "375", "29", "8 0"])
_phoneish = st.lists(_PHONE_ALPHABET, max_size=30).map("".join)
_SEPARATORS = st.sampled_from(["", "", "", "", "", " ", "-", ".", "\u00a0", "\u200e"])
_BEFORE = st.sampled_from(["", "мой номер ", "tel: ", "📞 ", "  ", "номер\t"]) | st.text(max_size=8)
_AFTER = st.sampled_from(["", ", спасибо", "!", " ok", "\n"]) | st.text(max_size=8)


@st.composite
def _decorated_numbers(draw: st.DrawFn) -> str:
    """A real number in some form, with separators and words drawn around and inside it."""
    base = draw(st.sampled_from(["+375291234567", "80291234567", "291234567", "375331234567",
                                 "+79161234567", "89161234567", "+48512345678", "0048512345678",
                                 "80171234567", "+16502530000"]))
    digits = [draw(_SEPARATORS) + char for char in base]
    return draw(_BEFORE) + "".join(digits) + draw(_AFTER)


_anything = st.one_of(
    st.text(max_size=200),
    _phoneish,
    st.tuples(st.text(max_size=20), _phoneish, st.text(max_size=20)).map("".join),
    _decorated_numbers(),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_anything, region=st.sampled_from(["BY", "RU", "PL", "US"]))
def test_normalise_never_raises_and_returns_canonical_e164(text: str, region: str) -> None:
    result = normalise_phone(text, region=region)
    if result is None:
        return
    assert is_e164(result)
    assert result.isascii()
    assert normalise_phone(result, region=region) == result
    assert normalise_phone(result, region="BY") == result  # with "+" the region is irrelevant
    assert phonenumbers.format_number(phonenumbers.parse(result, None),
                                      phonenumbers.PhoneNumberFormat.E164) == result
    assert mask_phone(result).startswith("+") and "*" in mask_phone(result)


@settings(max_examples=200, deadline=None)
@given(national=st.from_regex(r"(29[1-9]|33[0-9]|44[0-9]|25[5-79])[0-9]{6}", fullmatch=True))
def test_every_belarusian_mobile_in_every_form(national: str) -> None:
    expected = "+375" + national
    code, rest = national[:2], national[2:]
    for text in (expected, "375" + national, "80" + national, national,
                 f"8 (0{code}) {rest[:3]}-{rest[3:5]}-{rest[5:]}",
                 f"мой номер +375 {code} {rest}, спасибо"):
        assert normalise_phone(text) == expected, text
    assert mask_phone(expected) == f"+375 {code} ***-**-{rest[-2:]}"
