"""What the subscriber newly wrote in a mail: quoted history and the trailing signature removed.

Two kinds of quote are told apart:

- a quote **header** ("On … wrote:", "пн, 2 мар. 2026 г. в 10:15, Support <…>:", Outlook's
  "От:/Отправлено:/Кому:/Тема:" block, "-----Original Message-----") not followed by ``>`` lines:
  the history that follows is not marked, so everything from the header on is cut;
- a header followed by ``>`` lines, or ``>`` lines alone: only the marked lines go, so an answer
  written between quoted lines (an inline reply) keeps its lines, in order.

mail-parser-reply knows the headers of English, German and a dozen other languages; the Russian
and Belarusian ones (which it does not know) are recognised here. A header counts as strong
(enough to cut unmarked text) only when it carries a time and a date or an address: "Оператор
пишет:" in a subscriber's own sentence must not swallow the rest of the mail.

A forward is content, not history: after "---------- Forwarded message ---------" (or, for a
mail whose subject says ``Fwd:``, after the first header) nothing is cut.

A signature is cut only at the end: from a ``-- `` line, or from a closing ("С уважением,",
"Best regards,", "З павагай,") or a "Sent from my iPhone" line followed by at most four short
lines. Nothing is ever cut down to an empty text when there was something before the cut.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from itertools import chain

from mailparser_reply.constants import (  # type: ignore[import-untyped]
    GENERIC_MAIL_SEPARATOR,
    MAIL_LANGUAGES,
)

# Header patterns backtrack on long lines (the library's quadratically): a longer line is no
# header, and the library sees only lines that can belong to one (a colon on it or the next).
MAX_HEADER_LINE = 240
# A closing repeated a thousand times is not a signature: stop cutting after a few.
MAX_SIGNATURE_CUTS = 5
# A signature: at most this many non-blank lines after the closing, each at most this long.
SIGNATURE_LINES = 4
SIGNATURE_LINE_LENGTH = 60

_FLAGS = re.IGNORECASE | re.MULTILINE

_TIME = re.compile(r"\d{1,2}:\d{2}")
_DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")
_ADDRESS = re.compile(r"[^\s<>@]{1,64}@[^\s<>@]{1,255}")

_WROTE = re.compile(
    r"(?:^|[\s,>])(?:пишет|писал\(а\)|писала?|написал\(а\)|написала?|"
    r"нап[іi]саў\(ла\)|нап[іi]саў|нап[іi]сала|п[іi]саў\(ла\)|п[іi]саў|п[іi]сала|"
    r"wrote|schrieb)\s*:$",
    re.IGNORECASE,
)
_ADDRESS_COLON = re.compile(r"[^\s<>@]{1,64}@[^\s<>@]{1,255}>?\s*:$")
_OUTLOOK_KEY = re.compile(
    r"^[*\s]*(от кого|от|отправлено|кому|копия|тема|дата|ад|адпраўлена|каму|копія|тэма|"
    r"from|sent|to|cc|subject|date)[*\s]*:",
    re.IGNORECASE,
)
_OUTLOOK_FROM = frozenset({"от", "от кого", "ад", "from"})
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|исходное сообщение|оригинальное сообщение|"
    r"ursprüngliche nachricht|зыходнае паведамленне|арыгінальнае паведамленне|"
    r"message d'origine)\s*-{2,}$",
    re.IGNORECASE,
)
_FORWARD_PHRASES = (
    r"forwarded message|forwarded e-?mail|begin forwarded message|пересылаемое сообщение|"
    r"пересланное сообщение|переадресованное сообщение|начало переадресованного сообщения|"
    r"перенаправленное сообщение|перасланае паведамленне|перасланы ліст|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado"
)
_FORWARD = re.compile(
    rf"^(?:-{{2,}}\s*(?:{_FORWARD_PHRASES})\s*-*|(?:{_FORWARD_PHRASES})\s*:)$", re.IGNORECASE)
_RULE = re.compile(r"^[_\-=*]{5,}$")

_CLOSINGS = (
    r"с уважением|с наилучшими пожеланиями|с уважением и наилучшими пожеланиями|"
    r"всего (?:доброго|хорошего)|з павагай|з найлепшымі пажаданнямі|"
    r"best regards|kind regards|warm regards|regards|best wishes|yours sincerely|sincerely|"
    r"yours truly|cheers"
)
_THANKS = r"спасибо|заранее спасибо|благодарю|дзякуй|загадзя дзякуй|thanks|thank you|many thanks"
_CLOSING = re.compile(
    rf"^(?:(?:{_CLOSINGS}|{_THANKS})\s*[,.!]*"
    rf"|(?:{_CLOSINGS})\s*,?\s+(?P<name>[^\W\d_][\w.'’-]*(?:\s+[^\W\d_][\w.'’-]*){{0,3}})\.?)$",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"^(?:sent from my\s|sent from (?:mail\.ru|yandex|outlook|gmail)|отправлено с моего\s|"
    r"адпраўлена з майго\s|get outlook for\s|получите outlook для\s|скачайте outlook для\s|"
    r"(?:отправлено|sent|адпраўлена)\s+(?:с|со|из|from|with|via|з|са)\s+.{0,40}"
    r"(?:iphone|ipad|android|samsung|galaxy|xiaomi|huawei|honor|mail\.ru|почт|яндекс|yandex|"
    r"outlook|gmail|мобильн|телефон|смартфон|планшет|устройств|device|phone|тэлефон|прылад|"
    r"пошт))",
    re.IGNORECASE,
)
_SENT_FROM_LENGTH = 120
_SENT_FROM_WORDS = 8
_SENTENCE = re.compile(r"[,;?!]")


def _library_patterns() -> tuple[list[re.Pattern[str]], list[re.Pattern[str]], re.Pattern[str]]:
    """mail-parser-reply's per-language header patterns (one-line "wrote" headers, header
    blocks) and its "sent from" lines, compiled with its flags."""
    wrote: list[re.Pattern[str]] = []
    blocks: list[re.Pattern[str]] = [re.compile(GENERIC_MAIL_SEPARATOR, _FLAGS)]
    sent_from: list[str] = []
    for language in MAIL_LANGUAGES.values():
        if language.get("wrote_header"):
            wrote.append(re.compile(language["wrote_header"], _FLAGS))
        if language.get("from_header"):
            blocks.append(re.compile(language["from_header"], _FLAGS))
        if language.get("sent_from"):
            sent_from.append(f"(?:{language['sent_from']})")
    return wrote, blocks, re.compile(rf"^(?:{'|'.join(sent_from)})", re.IGNORECASE)


_LIBRARY_WROTE, _LIBRARY_BLOCKS, _LIBRARY_SENT_FROM = _library_patterns()


@dataclass
class _Header:
    end: int  # the header's last line
    strong: bool  # may cut unmarked text that follows


def strip_quotes(text: str, *, forwarded: bool = False) -> str:
    """The new text of a mail body: quoted history and the trailing signature removed.

    ``forwarded`` (the subject says ``Fwd:``/``FW:``): the first quote header starts the
    forwarded mail, which is kept (Outlook forwards with the same header block it quotes with).
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    view = [line.strip() for line in lines]
    quoted = [line.startswith(">") for line in view]
    headers = _headers(view, quoted)
    own: list[str] = []
    forward: list[str] = []
    in_block = False
    index = 0
    while index < len(lines):
        if not quoted[index] and _FORWARD.match(view[index]):
            forward = lines[index:]
            break
        header = headers.get(index) if not quoted[index] else None
        if header is not None:
            following = _next_non_blank(view, header.end + 1)
            if following is not None and quoted[following]:
                index = header.end + 1  # the attribution of a ">" block
                continue
            if header.strong:
                if forwarded:
                    forward = lines[index:]
                break
        if quoted[index]:
            if not in_block:
                _drop_attribution(own)
            in_block = True
        else:
            in_block = False
            own.append(lines[index])
        index += 1
    _drop_trailing_rules(own)
    parts = [_tidy(_strip_signature(own)), _tidy(forward)]
    return "\n\n".join(part for part in parts if part)


# --------------------------------------------------------------------------- quote headers


def _headers(view: list[str], quoted: list[bool]) -> dict[int, _Header]:
    found: dict[int, _Header] = {}

    def add(start: int, end: int, strong: bool) -> None:
        if quoted[start]:
            return
        known = found.get(start)
        if known is None:
            found[start] = _Header(end, strong)
        else:
            known.end, known.strong = max(known.end, end), known.strong or strong

    for index, line in enumerate(view):
        if len(line) > MAX_HEADER_LINE:
            continue
        if _SEPARATOR.match(line):
            add(index, index, True)
        elif line.endswith(":") and (_WROTE.search(line) or _ADDRESS_COLON.search(line)):
            start, strong = index, _strong(line)
            previous = view[index - 1] if index > 0 else ""
            if (previous and not strong and not quoted[index - 1] and not _TIME.search(line)
                    and len(previous) <= MAX_HEADER_LINE and _stamped(previous)
                    and not previous.endswith((".", "!", "?"))
                    and _strong(f"{previous} {line}")):
                start, strong = index - 1, True  # a header wrapped over two lines
            if strong or _WROTE.search(line):
                add(start, index, strong)
    for start, end in _outlook_blocks(view):
        add(start, end, True)
    for start, end, strong in _library_headers(view):
        add(start, end, strong)
    return found


def _stamped(line: str) -> bool:
    return bool(_TIME.search(line) or _ADDRESS.search(line))


def _strong(header: str) -> bool:
    """A real client's header: a time, plus a date or an address."""
    return bool(_TIME.search(header) and (_DATE.search(header) or _ADDRESS.search(header)))


def _outlook_blocks(view: list[str]) -> list[tuple[int, int]]:
    """Runs of at least two header lines ("От:", "Отправлено:", "From:", "Subject:"...) in any
    order, one of them the sender."""
    blocks = []
    index = 0
    while index < len(view):
        run_end = index
        keys = []
        while run_end < len(view) and (match := _OUTLOOK_KEY.match(view[run_end])):
            keys.append(match.group(1).lower())
            run_end += 1
        if len(keys) >= 2 and _OUTLOOK_FROM.intersection(keys):
            blocks.append((index, run_end - 1))
        index = max(run_end, index + 1)
    return blocks


def _library_headers(view: list[str]) -> list[tuple[int, int, bool]]:
    """Headers mail-parser-reply finds, as (first line, last line, strong). It reads only the
    lines that can be part of a header; each run of other lines is shown as one empty line."""
    shown: list[str] = []
    origin: list[int] = []  # the view index of each shown line
    for index, line in enumerate(view):
        near_colon = ":" in line or "：" in line or (
            index + 1 < len(view) and (":" in view[index + 1] or "：" in view[index + 1]))
        if near_colon or "original message" in line.lower():
            shown.append(line[:MAX_HEADER_LINE])
            origin.append(index)
        elif not shown or shown[-1]:
            shown.append("")
            origin.append(index)
    text = "\n".join(shown)
    starts = [0] + [match.end() for match in re.finditer("\n", text)]
    found = []
    for pattern, block in chain(((p, False) for p in _LIBRARY_WROTE),
                                ((p, True) for p in _LIBRARY_BLOCKS)):
        for match in pattern.finditer(text):
            matched = match.group().strip("\n")
            if not matched:
                continue
            begin = match.start() + len(match.group()) - len(match.group().lstrip("\n"))
            first = bisect.bisect_right(starts, begin) - 1
            last = first + matched.count("\n")
            if block and last == first and pattern.pattern != GENERIC_MAIL_SEPARATOR:
                continue  # one "Date:" line is not a header block
            found.append((origin[first], origin[last], block or _strong(matched)))
    return found


def _next_non_blank(view: list[str], start: int) -> int | None:
    return next((i for i in range(start, len(view)) if view[i]), None)


def _drop_attribution(own: list[str]) -> None:
    """A ">" block starts: the line just before it ending in ":" with a time or an address is its
    attribution, in whatever language ("Le 2 mars 2026 à 10:15, Support a écrit :")."""
    last = len(own) - 1
    while last >= 0 and not own[last].strip():
        last -= 1
    line = own[last].strip() if last >= 0 else ""
    if line.endswith(":") and len(line) <= MAX_HEADER_LINE and _stamped(line):
        del own[last:]


def _drop_trailing_rules(own: list[str]) -> None:
    """Blank lines and the "______" rule Outlook draws above its header block."""
    while own and (not own[-1].strip() or _RULE.match(own[-1].strip())):
        own.pop()


# --------------------------------------------------------------------------- signatures


def _strip_signature(lines: list[str]) -> list[str]:
    lines = list(lines)
    for _cut in range(MAX_SIGNATURE_CUTS):
        cut = _signature_start(lines)
        if cut is None:
            break
        lines = lines[:cut]
        _drop_trailing_rules(lines)
    return lines


def _signature_start(lines: list[str]) -> int | None:
    view = [line.strip() for line in lines]
    first_text = next((i for i, line in enumerate(view) if line), None)
    if first_text is None:
        return None
    for index, line in enumerate(view):
        if index > first_text and line == "--":  # RFC 3676 "-- " (many clients drop the space)
            return index
    after = 0
    for index in range(len(view) - 1, first_text, -1):
        line = view[index]
        if not line:
            continue
        if _is_closing(line) or _is_sent_from(line):
            return index
        after += 1
        if after > SIGNATURE_LINES or len(line) > SIGNATURE_LINE_LENGTH:
            return None
    return None


def _is_closing(line: str) -> bool:
    match = _CLOSING.match(line)
    if match is None:
        return False
    name = match.group("name")
    return name is None or all(word[0].isupper() for word in name.split())


def _is_sent_from(line: str) -> bool:
    """A client's "Sent from my iPhone" line: short, no sentence punctuation ("Sent from my card
    10 USD, never arrived" is a sentence)."""
    return (len(line) <= _SENT_FROM_LENGTH and len(line.split()) <= _SENT_FROM_WORDS
            and not _SENTENCE.search(line)
            and bool(_SENT_FROM.match(line) or _LIBRARY_SENT_FROM.match(line)))


def _tidy(lines: list[str]) -> str:
    """At most one blank line in a row (removed quotes leave gaps); no blank edges."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line if line.strip() else "")
    return "\n".join(out).strip()
