"""Bytes of unknown or wrongly declared charset -> text, as Russian and Belarusian mail needs.

UTF-8 when it decodes; otherwise the single-byte charset (windows-1251, KOI8-R, cp866,
ISO-8859-5, Mac Cyrillic or windows-1252) whose decoding reads most like Russian/Belarusian or
Western text, scored by letter frequencies. Charset names that are not text codecs
("punycode", "zlib"...) are refused.
"""

from __future__ import annotations

import codecs
import math
import re
from functools import lru_cache

_SCORE_SAMPLE = 8_192  # bytes looked at to guess a charset

_ALIASES = {
    "win-1251": "cp1251", "windows1251": "cp1251", "cp-1251": "cp1251", "x-cp1251": "cp1251",
    "win1251": "cp1251", "windows-1251x": "cp1251",
    "koi8r": "koi8-r", "koi-8-r": "koi8-r", "koi8": "koi8-r", "x-koi8-r": "koi8-r",
    "koi8u": "koi8-u", "ibm866": "cp866", "cp-866": "cp866", "866": "cp866", "x-ibm866": "cp866",
    "x-mac-cyrillic": "mac-cyrillic", "x-mac-ukrainian": "mac-cyrillic",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
    "ks-c-5601-1987": "cp949", "gb2312": "gbk", "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874", "x-user-defined": "latin-1",
}
# Codecs that are not charsets, or are slow or raise on every input.
_REFUSED = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined",
                      "mbcs", "oem", "utf-7"})
_GUESSES = ("cp1251", "koi8-r", "cp866", "iso8859-5", "mac-cyrillic", "cp1252")


@lru_cache(maxsize=256)
def codec_name(charset: str | None) -> str | None:
    """The Python codec for a MIME charset name, or None when it is unknown or not a charset."""
    if not charset:
        return None
    key = charset.strip().strip("\"'").split("*", 1)[0].lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    try:
        info = codecs.lookup(key)
        b"x".decode(info.name, "replace")  # LookupError for bytes-to-bytes codecs (zlib...)
    except (LookupError, ValueError, TypeError, UnicodeError):
        return None
    return None if info.name in _REFUSED else info.name


@lru_cache(maxsize=64)
def _single_byte(codec: str) -> bool:
    return len(bytes(range(256)).decode(codec, "replace")) == 256


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> text; never raises. A declared multi-byte charset that
    decodes is trusted; UTF-8 is tried next; a single-byte charset is checked against the other
    Cyrillic ones, since mailers mix them up and declare Latin-1 for windows-1251."""
    if not data:
        return ""
    codec = codec_name(charset)
    if codec is not None and codec != "utf-8" and not _single_byte(codec):
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    sample = data[:_SCORE_SAMPLE]
    declared = codec if codec is not None and codec != "ascii" and _single_byte(codec) else None
    best, best_score = "utf-8", _score(sample.decode("utf-8", "replace"))
    for candidate in (declared, *_GUESSES):
        if candidate is None:
            continue
        score = _score(sample.decode(candidate, "replace"))
        if candidate == declared:
            score += max(5.0, abs(score) * 0.1)  # a declaration is evidence; override it only
        if score > best_score:  # when another charset reads clearly better
            best, best_score = candidate, score
    return data.decode(best, "replace")


# Russian letter frequencies (per cent); Belarusian і and ў added; log-odds against uniform.
_FREQUENCIES = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47, "р": 4.73,
    "в": 4.54, "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81, "у": 2.62, "я": 2.01,
    "ы": 1.90, "ь": 1.74, "г": 1.70, "з": 1.65, "б": 1.59, "ч": 1.44, "й": 1.21, "х": 0.97,
    "ж": 0.94, "ш": 0.73, "ю": 0.64, "ц": 0.48, "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04,
    "ё": 0.04, "і": 2.5, "ў": 1.0,
}
_LOG_ODDS = {letter: math.log(share / 3.0) for letter, share in _FREQUENCIES.items()}
_WESTERN = frozenset("àâäçéèêëîïôöùûüÿñßáíóúãõåæøœ" + "ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÑÁÍÓÚÃÕÅÆØŒ")
_NEUTRAL = frozenset("«»—–…№€°’‘“”„•\u00a0")


def _score(text: str) -> float:
    """How much ``text`` reads like real text: frequent Cyrillic letters and plain ASCII score;
    mid-word capitals, scripts mixed in one word, words made only of accented Latin letters
    (windows-1251 read as Latin-1: "Ïðèâåò"), controls and odd symbols cost."""
    total = 0.0
    previous_lower = False
    scripts = 0  # letters of the current word: 1 Latin, 2 Cyrillic
    ascii_letters = accented = 0  # Latin letters of the current word
    for char in text:
        code = ord(char)
        if "\u0400" <= char <= "\u04ff":
            lower = char.lower()
            total += _LOG_ODDS.get(lower, -3.0)
            if char != lower and previous_lower:
                total -= 3.0
            previous_lower = char == lower
            scripts |= 2
            continue
        if (code < 128 and char.isalpha()) or char in _WESTERN:
            if code < 128:
                ascii_letters += 1
            else:
                accented += 1
                total -= 0.5
            previous_lower = char.islower()
            scripts |= 1
            continue
        total -= _word_penalty(scripts, ascii_letters, accented)
        scripts = ascii_letters = accented = 0
        previous_lower = False
        if code < 128:
            if code < 32 and char not in "\t\n\r\f":
                total -= 4.0
        elif char == "\ufffd":
            total -= 8.0
        elif code < 0xA0:
            total -= 6.0
        elif char not in _NEUTRAL:
            total -= 3.0 if char.isalpha() else 2.0
    return total - _word_penalty(scripts, ascii_letters, accented)


def _word_penalty(scripts: int, ascii_letters: int, accented: int) -> float:
    penalty = 4.0 if scripts == 3 else 0.0
    if accented >= 2 and ascii_letters == 0:
        penalty += 2.0 * accented
    return penalty


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")


def clean_text(text: str) -> str:
    """Line ends as ``\\n``; no NULs, other controls or BOMs (databases and logs choke on them)."""
    return CONTROL_CHARACTERS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


# --------------------------------------------------------------------------- HTML
