"""Reply and forward prefixes in subjects: ``Re:``, ``RE[2]:``, ``Fwd:``, ``Ответ:``, ``Адказ:``...

A subject without its prefixes is the thread fallback key when a mail carries no usable
``In-Reply-To``/``References`` (some webmail clients drop them), and a reply gets exactly one
``Re:`` however long the chain was.
"""

from __future__ import annotations

import re

DEFAULT_EMPTY_SUBJECT = "Ваше обращение"

_REPLY = ("re", "aw", "ответ", "отв", "адказ")
_FORWARD = ("fwd", "fw", "wg", "пересл")
# One prefix: a word, an optional counter ("Re[2]:", "Re(2):", "Re^2:"), a colon (also the
# full-width one some clients use), spaces anywhere in between.
_PREFIX = re.compile(
    r"\s*(" + "|".join(_REPLY + _FORWARD) + r")\s*(?:\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4})?\s*[:：]",
    re.IGNORECASE,
)


def _collapse(subject: str) -> str:
    return " ".join(subject.split())


def _prefixes(subject: str) -> tuple[list[str], str]:
    words: list[str] = []
    rest = _collapse(subject)
    while (match := _PREFIX.match(rest)) is not None:
        words.append(match.group(1).casefold())
        rest = rest[match.end():].lstrip()
    return words, rest


def strip_prefixes(subject: str) -> str:
    """The subject without any number of reply/forward prefixes, whitespace collapsed, case kept."""
    return _prefixes(subject)[1]


def normalise_subject(subject: str) -> str:
    """The thread fallback key: no prefixes, whitespace collapsed, casefolded."""
    return strip_prefixes(subject).casefold()


def is_forward(subject: str) -> bool:
    """True when the outermost prefix is a forward (``Fwd: Re: ...`` is a forward)."""
    words = _prefixes(subject)[0]
    return bool(words) and words[0] in _FORWARD


def reply_subject(subject: str, empty: str = DEFAULT_EMPTY_SUBJECT) -> str:
    """``Re: `` + the subject without its prefixes (``empty`` when nothing is left); never
    ``Re: Re:``."""
    base = strip_prefixes(subject) or strip_prefixes(empty) or DEFAULT_EMPTY_SUBJECT
    return f"Re: {base}"
