"""Replies as e-mails (pure): threading headers, the RFC 3834 marks of an automatic reply, a
text part with a simple HTML alternative, and buttons as a numbered list a subscriber answers
with a number.

Threading follows RFC 5322 section 3.6.4: ``In-Reply-To`` is the mail answered and
``References`` its references followed by its id; the list is capped at the last 20 ids (long
threads would otherwise grow the header without end, and clients thread by the last ones).
The caller computes the subject ("Re: ..." without doubling): this module only writes it.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

MAX_REFERENCES = 20

# 7bit: the text parts go out base64 or quoted-printable, whichever is shorter, so no relay has
# to convert 8-bit bodies (and none can mangle them).
_POLICY = policy.default.clone(cte_type="7bit")
_MSG_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")
# "2", "2.", "2)", "№2", "#2", " 2 " -- and nothing else around it
_NUMBER_REPLY = re.compile(r"\s*(?:№|#|No\.?)?\s*(\d{1,3})\s*[.)]?\s*", re.IGNORECASE)


def compose_reply(
    *,
    from_address: str,
    to_address: str,
    subject: str,
    in_reply_to: str | None,
    references: tuple[str, ...],
    text: str,
    html: str | None = None,
    auto: bool,
    domain: str,
) -> EmailMessage:
    """A reply ready for SMTP. ``auto`` marks the bot's own replies (``Auto-Submitted:
    auto-replied`` and ``X-Auto-Response-Suppress: All``); an agent's reply is not marked.
    ``html`` None means: the text, escaped, in simple paragraphs."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = _one_line(from_address)
    message["To"] = _one_line(to_address)
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    parent = _msg_id(in_reply_to) if in_reply_to is not None else None
    if parent is not None:
        message["In-Reply-To"] = parent
    thread = thread_references(references, in_reply_to)
    if thread:
        message["References"] = " ".join(thread)
    if auto:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html if html is not None else text_to_html(text), subtype="html",
                            charset="utf-8")
    for part in message.iter_parts():
        del part["MIME-Version"]  # email adds it to the new part too; it belongs on top only
    return message


def thread_references(references: Iterable[str], in_reply_to: str | None) -> list[str]:
    """``references`` then ``in_reply_to``: valid msg-ids only, each once (first place kept),
    at most the last :data:`MAX_REFERENCES`."""
    seen: set[str] = set()
    thread: list[str] = []
    for raw in (*references, *((in_reply_to,) if in_reply_to is not None else ())):
        msg_id = _msg_id(raw)
        if msg_id is not None and msg_id not in seen:
            seen.add(msg_id)
            thread.append(msg_id)
    return thread[-MAX_REFERENCES:]


def text_to_html(text: str) -> str:
    """Plain text as a minimal HTML document: paragraphs at blank lines, ``<br>`` at breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p]
    body = "\n".join(
        "<p>" + "<br>\n".join(html_lib.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs)
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
            f"<body>\n{body}\n</body></html>\n")


def numbered_buttons(text: str, titles: Sequence[str], *, hint: str) -> str:
    """The text followed by the buttons as ``1. Title`` lines and the ``hint``; the text alone
    when there are no buttons."""
    if not titles:
        return text
    lines = [f"{n}. {_one_line(title).strip()}" for n, title in enumerate(titles, start=1)]
    parts = [text.rstrip(), "\n".join(lines), hint.strip()]
    return "\n\n".join(p for p in parts if p)


def read_number_reply(text: str, count: int) -> int | None:
    """The button number (1 to ``count``) when the new text of a reply is only a number such as
    "2", "2.", "2)", "№2"; otherwise None (a sentence that contains a number is not a choice)."""
    matched = _NUMBER_REPLY.fullmatch(text)
    if matched is None:
        return None
    number = int(matched.group(1))
    return number if 1 <= number <= count else None


def _msg_id(value: str) -> str | None:
    """``<id@host>`` for an id with or without its brackets; None for anything else (a header
    value must not carry spaces or line breaks from a mail we received)."""
    text = value.strip()
    if not text.startswith("<"):
        text = f"<{text}>"
    return text if _MSG_ID.fullmatch(text) else None


def _one_line(value: str) -> str:
    """Header values cannot hold line breaks (``email`` would raise): they become spaces."""
    return _LINE_BREAKS.sub(" ", value).strip()
