"""Raw mail bytes -> :class:`ParsedMail`: what the subscriber wrote, and what threading needs.

Pure (no I/O) and total: any bytes give a ParsedMail, never an exception, because one broken mail
in the inbox must not stop the channel. The stdlib parser (``policy.default``) finds the MIME
structure; every header is then read raw (``raw_items``) and decoded here, since the parsed
header objects raise or give up on what Russian mail still carries: KOI8-R, windows-1251, cp866
and ISO-8859-5 bodies and RFC 2047 words, charsets declared wrong or not at all, 8-bit headers.

A body whose charset is missing, unknown or wrong is guessed: UTF-8 when it decodes, otherwise
the single-byte charset whose decoding reads most like Russian/Belarusian (or Western) text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import quopri
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime

from channels.email.charsets import CONTROL_CHARACTERS, clean_text, decode_bytes
from channels.email.html_text import MAX_HTML, html_to_text
from channels.email.loop_guard import addresses, content_type, first_header, loop_reason
from channels.email.quotes import strip_quotes
from channels.email.subjects import is_forward, strip_prefixes

MAX_BODY = 100_000  # characters of body text kept (the transcript)
MAX_TEXT = 4_000  # characters of new text handed to the bot
MAX_HEADER = 2_000  # characters of a decoded header (subject, names)
MAX_MSG_ID = 250  # longer ids are replaced by a hash, the same way everywhere
MAX_PARTS = 500
MAX_DEPTH = 30
MAX_ATTACHMENTS = 100

_INVALID_DOMAIN = "abonent.invalid"


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str  # "<id@host>"; for a mail without one, derived from its bytes
    in_reply_to: str | None  # the first msg-id in In-Reply-To
    references: tuple[str, ...]  # the msg-ids in References, in order
    sender: str  # the From address, lower-cased; "" when none parseable
    sender_name: str | None  # the From display name, decoded
    reply_to: str | None  # the Reply-To address, lower-cased
    subject: str  # decoded, whitespace collapsed; "" when none
    text: str  # the new text (no quotes, no signature); the bare subject when that is empty
    body: str  # the whole decoded body text, quotes included (the transcript)
    attachments: tuple[str, ...]  # per attachment or inline non-text part: filename or type
    date: datetime | None  # the Date header, aware
    loop_reason: str | None  # why this mail must never get an automatic reply


def parse_mail(raw: bytes, *, own_addresses: Iterable[str] = ()) -> ParsedMail:
    raw = bytes(raw)
    message = _parse(raw)
    subject = " ".join(decode_header_text(first_header(message, "Subject") or "").split())
    forwarded = is_forward(subject)
    content = _Content()
    _walk(message, 0, content)
    body, new_source = content.texts(forwarded=forwarded)
    text = strip_quotes(new_source[:MAX_BODY], forwarded=forwarded)
    if not text.strip():
        text = strip_prefixes(subject)
    sender, sender_name = _from(first_header(message, "From"))
    reply_to = _address(first_header(message, "Reply-To"))
    return ParsedMail(
        message_id=_message_id(first_header(message, "Message-ID"), raw),
        in_reply_to=next(iter(_msg_ids(first_header(message, "In-Reply-To"))), None),
        references=tuple(_msg_ids(first_header(message, "References"))),
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to or None,
        subject=subject,
        text=cut_at_word(text, MAX_TEXT),
        body=body[:MAX_BODY],
        attachments=tuple(content.attachments[:MAX_ATTACHMENTS]),
        date=_date(first_header(message, "Date")),
        loop_reason=loop_reason(message, own_addresses=tuple(own_addresses)),
    )


def cut_at_word(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at the last whitespace when there is one nearby."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    if space > limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip()


# --------------------------------------------------------------------------- structure


def _parse(raw: bytes) -> Message:
    try:
        return BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:  # noqa: BLE001, S110 - e.g. RecursionError on absurd nesting: keep headers
        pass
    try:
        head = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    except Exception:  # noqa: BLE001 - nothing readable at all
        return EmailMessage(policy=policy.default)
    _head, _sep, rest = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    head.set_payload(rest.decode("ascii", "surrogateescape"))
    return head


@dataclass
class _Content:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    parts: int = 0

    def texts(self, *, forwarded: bool) -> tuple[str, str]:
        """(body, the text to look for new text in). HTML quotes (``<blockquote>``) are history,
        except in a forward, where Apple Mail puts the forwarded mail in one."""
        plain = [text for text in self.plain if text.strip()]
        if plain:
            body = "\n".join(plain).strip()
            return body, body
        body = "\n\n".join(html_to_text(html) for html in self.html).strip()
        if forwarded:
            return body, body
        return body, "\n\n".join(html_to_text(html, keep_quotes=False) for html in self.html)


def _walk(part: Message, depth: int, found: _Content) -> None:
    if found.parts >= MAX_PARTS:
        return
    found.parts += 1
    ctype = content_type(part)
    if ctype.startswith("message/") or depth >= MAX_DEPTH:
        found.attachments.append(_attachment_name(part, ctype))
        return
    if part.is_multipart():  # then get_payload() is the list of parts and cannot raise
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if ctype == "multipart/alternative":
            _walk_alternatives(children, depth + 1, found)
        else:
            for child in children:
                _walk(child, depth + 1, found)
        return
    if ctype.startswith("multipart/"):
        ctype = "text/plain"  # a multipart without a usable boundary: its text is the body
    if ctype not in ("text/plain", "text/html") or _is_attachment(part):
        found.attachments.append(_attachment_name(part, ctype))
        return
    if ctype == "text/plain":
        found.plain.append(_plain_text(part))
    else:
        found.html.append(_part_text(part, html=True)[:MAX_HTML])


def _walk_alternatives(children: list[Message], depth: int, found: _Content) -> None:
    """The first alternative with plain text wins, else the first with HTML; attachments of every
    alternative count (Apple Mail hangs pasted images on the HTML one)."""
    options = []
    for child in children:
        option = _Content(parts=found.parts)
        _walk(child, depth, option)
        found.parts = option.parts
        options.append(option)
    chosen = next((o for o in options if any(t.strip() for t in o.plain)), None) or next(
        (o for o in options if any(t.strip() for t in o.html)), None)
    if chosen is not None:
        found.plain += chosen.plain
        found.html += chosen.html
    for option in options:
        found.attachments += option.attachments


def _is_attachment(part: Message) -> bool:
    disposition = (first_header(part, "Content-Disposition") or "").split(";", 1)[0]
    disposition = disposition.strip().lower()
    return disposition == "attachment" or (disposition == "inline" and bool(_filename(part)))


def _attachment_name(part: Message, ctype: str) -> str:
    return _filename(part) or ctype


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a hostile RFC 2231 parameter
        name = None
    if not name:
        return ""
    name = decode_header_text(str(name))  # Outlook and Mail.ru put RFC 2047 words in it
    name = re.split(r"[\\/]", name)[-1]
    return " ".join(name.split())[:255]


def _param(part: Message, name: str) -> str | None:
    value = first_header(part, "Content-Type") or ""
    match = re.search(rf'(?:^|;)\s*{name}\s*=\s*(?:"([^"]*)"|([^;\s]*))', value, re.IGNORECASE)
    if match is None:
        return None
    return (match.group(1) if match.group(1) is not None else match.group(2)).strip() or None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding: take what is there
        data = None
    if isinstance(data, bytes):
        return data
    try:
        payload = part.get_payload()
    except Exception:  # noqa: BLE001 - it decodes with the declared charset, which may be junk
        return b""
    return _to_bytes(payload) if isinstance(payload, str) else b""


def _part_text(part: Message, *, html: bool = False) -> str:
    data = _payload_bytes(part)
    charset = _param(part, "charset")
    if charset is None and html:
        meta = re.search(rb"""<meta[^>]{0,200}charset\s*=\s*["']?([A-Za-z0-9_:.-]{1,40})""",
                         data[:4096], re.IGNORECASE)
        charset = meta.group(1).decode("ascii") if meta else None
    return clean_text(decode_bytes(data, charset))


def _plain_text(part: Message) -> str:
    text = _part_text(part)
    if (_param(part, "format") or "").lower() == "flowed":
        text = unflow(text, delsp=(_param(part, "delsp") or "").lower() == "yes")
    return text


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 ``format=flowed``: a line ending in a space continues on the next line of the
    same quote depth; a leading space is stuffing."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:].removeprefix(" ")
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = content, depth
        if current.endswith(" ") and current.rstrip(" ") != "--":
            if delsp:
                current = current[:-1]
            continue
        out.append(">" * depth + (" " if depth else "") + current)
        current = None
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


# --------------------------------------------------------------------------- headers


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")
_MSG_ID = re.compile(r"<[^<>]*>")


def decode_header_text(raw: str) -> str:
    """A raw header value -> text: RFC 2047 words in any charset (adjacent words of one charset
    joined before decoding, as split UTF-8 needs), raw 8-bit bytes guessed like a body."""
    pieces: list[tuple[bytearray, str | None]] = []
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(raw):
        between = raw[position:match.start()]
        if between and not (after_word and not between.strip()):
            pieces.append((bytearray(_to_bytes(between)), None))
        charset = match.group(1).split("*", 1)[0].lower()
        data = _decode_word(match.group(2), match.group(3))
        if pieces and pieces[-1][1] == charset:
            pieces[-1][0].extend(data)
        else:
            pieces.append((bytearray(data), charset))
        position = match.end()
        after_word = True
    if position < len(raw):
        pieces.append((bytearray(_to_bytes(raw[position:])), None))
    text = "".join(decode_bytes(bytes(data), charset) for data, charset in pieces)
    return CONTROL_CHARACTERS.sub("", text.replace("\r", " ").replace("\n", " "))[:MAX_HEADER]


def _decode_word(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        data = re.sub(r"[^A-Za-z0-9+/]", "", text)
        if len(data) % 4 == 1:  # a stray last character decodes to nothing
            data = data[:-1]
        try:
            return base64.b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            return b""
    return quopri.decodestring(text.encode("ascii", "replace"), header=True)


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _from(value: str | None) -> tuple[str, str | None]:
    if value is None:
        return "", None
    pairs = addresses(value)
    address = next((a for _n, a in pairs if "@" in a), "")
    name = next((n for n, a in pairs if a == address), "") if address else ""
    decoded = " ".join(decode_header_text(name).split()).strip("\"' ")
    return _clean_address(address), decoded or None


def _address(value: str | None) -> str:
    if value is None:
        return ""
    return _clean_address(next((a for _n, a in addresses(value) if "@" in a), ""))


def _clean_address(address: str) -> str:
    """Addresses are ASCII (or UTF-8, RFC 6532); surrogates from raw bytes must not leak."""
    return CONTROL_CHARACTERS.sub("", decode_bytes(_to_bytes(address), "utf-8"))[:MAX_HEADER]


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    if "=?" in value:  # the email package folds a long id into RFC 2047 words
        value = decode_header_text(value)
    compact = "".join(decode_bytes(_to_bytes(value), "utf-8").split())
    ids = [_msg_id_token(token) for token in _MSG_ID.findall(compact) if token != "<>"]
    if not ids and compact and "<" not in compact and ">" not in compact:
        ids = [_msg_id_token(f"<{compact}>")]
    return ids


def _msg_id_token(token: str) -> str:
    token = CONTROL_CHARACTERS.sub("", token)
    if len(token) <= MAX_MSG_ID:
        return token
    return f"<{hashlib.sha256(token.encode()).hexdigest()[:32]}@{_INVALID_DOMAIN}>"


def _message_id(value: str | None, raw: bytes) -> str:
    ids = _msg_ids(value)
    if ids:
        return ids[0]
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@{_INVALID_DOMAIN}>"


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value.encode("ascii", "replace").decode("ascii"))
    except Exception:  # noqa: BLE001 - the stdlib raises several types on junk dates
        return None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- charsets
