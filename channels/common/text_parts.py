"""Long replies cut into parts a platform accepts, at a paragraph, line or word boundary.

Lengths are in UTF-16 code units, as Telegram counts them; for platforms that count characters
(VK) that is a safe over-estimate.
"""

from __future__ import annotations


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = 4000) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units, cut at the last paragraph break, line break or
    space of the window (when that keeps at least half of it), otherwise hard."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        window = rest[: _fitting(rest, limit)]
        cut = _boundary(window)
        parts.append(window[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [part for part in parts if part]


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _boundary(window: str) -> int:
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > 0 and at >= len(window) // 2:
            return at
    return len(window)
