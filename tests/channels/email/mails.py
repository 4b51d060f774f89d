"""Raw test mails (bytes, CRLF line ends, ready for IMAP APPEND or SMTP) as real clients and
servers send them: plain, HTML-only, multipart/alternative, legacy Russian charsets, attachments,
a bounce, an out-of-office, a mailing-list mail, and broken ones built by hand.

Every builder takes the envelope as keywords: ``from_``, ``to``, ``subject``, ``message_id``
(a fresh one by default; ``None`` leaves the header out), ``in_reply_to``, ``references``,
``date`` and ``headers`` (extra ``(name, value)`` pairs)::

    raw = plain_mail("какой у меня баланс", from_="Анна <anna@example.test>")
    raw = plain_mail("спасибо", in_reply_to="<r1@example.test>", references=["<r1@example.test>"])
"""

from __future__ import annotations

import base64
import quopri
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

CRLF = b"\r\n"
SUPPORT = "support@example.test"
DEFAULT_FROM = "Иван Петров <ivan@example.test>"
DEFAULT_TO = f"Support <{SUPPORT}>"
DEFAULT_SUBJECT = "Не работает интернет"
# Written just now (Minsk time): the bot does not answer mail older than two weeks.
DEFAULT_DATE = format_datetime(datetime.now(timezone(timedelta(hours=3))).replace(microsecond=0))
NEW_ID = object()  # the default message_id: a fresh one per mail

# A tiny real JPEG and PDF, enough for a client to show them.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAA//EABQQAQAAAAAA"
    "AAAAAAAAAAAAAAD/2gAIAQEAAD8AN//Z")
PDF = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
       b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

Attachment = tuple[str, str, bytes]  # (filename, content type, data)
PHOTO: Attachment = ("photo.jpg", "image/jpeg", JPEG)
CONTRACT: Attachment = ("Договор №5.pdf", "application/pdf", PDF)


def _message_id(message_id: str | object | None) -> str | None:
    if message_id is NEW_ID:
        return make_msgid(domain="example.test")
    return message_id if isinstance(message_id, str) else None


def _envelope(
    message: EmailMessage, *, from_: str, to: str, subject: str | None,
    message_id: str | object | None, in_reply_to: str | None, references: Iterable[str],
    date: str | None, headers: Sequence[tuple[str, str]],
) -> None:
    message["From"] = from_
    message["To"] = to
    if subject is not None:
        message["Subject"] = subject
    if date is not None:
        message["Date"] = date
    if (msg_id := _message_id(message_id)) is not None:
        message["Message-ID"] = msg_id
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
    if refs := " ".join(references):
        message["References"] = refs
    for name, value in headers:
        message[name] = value


# RFC 5322's hard line limit: the email package would otherwise turn a long References into
# RFC 2047 words, which no mail client does.
_POLICY = policy.SMTP.clone(max_line_length=998)


def _bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=_POLICY)


def plain_mail(
    text: str = "Здравствуйте! Не работает мобильный интернет.", *,
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO, subject: str | None = DEFAULT_SUBJECT,
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (), charset: str = "utf-8", cte: str | None = None,
) -> bytes:
    """One text/plain part (``cte``: "8bit", "base64", "quoted-printable"; the library picks)."""
    message = EmailMessage()
    _envelope(message, from_=from_, to=to, subject=subject, message_id=message_id,
              in_reply_to=in_reply_to, references=references, date=date, headers=headers)
    message.set_content(text, charset=charset, cte=cte)
    return _bytes(message)


def html_mail(
    html: str = "<html><body><p>Здравствуйте!</p><p>Не работает интернет.</p></body></html>", *,
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO, subject: str | None = DEFAULT_SUBJECT,
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """HTML only, no text alternative (some webmail and marketing tools send that)."""
    message = EmailMessage()
    _envelope(message, from_=from_, to=to, subject=subject, message_id=message_id,
              in_reply_to=in_reply_to, references=references, date=date, headers=headers)
    message.set_content(html, subtype="html")
    return _bytes(message)


def alternative_mail(
    text: str = "Здравствуйте! Не работает интернет.",
    html: str = "<div>Здравствуйте! <b>Не работает</b> интернет.</div>", *,
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO, subject: str | None = DEFAULT_SUBJECT,
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (), attachments: Sequence[Attachment] = (),
) -> bytes:
    """multipart/alternative (text, then HTML) as Gmail sends it; with ``attachments`` the whole
    is wrapped in multipart/mixed."""
    message = EmailMessage()
    _envelope(message, from_=from_, to=to, subject=subject, message_id=message_id,
              in_reply_to=in_reply_to, references=references, date=date, headers=headers)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return _bytes(message)


def attachments_mail(
    text: str = "Фото экрана и договор во вложении.", *,
    attachments: Sequence[Attachment] = (PHOTO, CONTRACT),
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO, subject: str | None = DEFAULT_SUBJECT,
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """multipart/mixed: the text, then each attachment (a Cyrillic filename goes RFC 2231)."""
    message = EmailMessage()
    _envelope(message, from_=from_, to=to, subject=subject, message_id=message_id,
              in_reply_to=in_reply_to, references=references, date=date, headers=headers)
    message.set_content(text)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return _bytes(message)


def inline_image_mail(
    html: str = '<p>Вот что пишет телефон:</p><p><img src="cid:shot@example.test"></p>', *,
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO, subject: str | None = DEFAULT_SUBJECT,
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """multipart/related: HTML with a pasted screenshot (inline, no filename)."""
    message = EmailMessage()
    _envelope(message, from_=from_, to=to, subject=subject, message_id=message_id,
              in_reply_to=in_reply_to, references=references, date=date, headers=headers)
    message.set_content(html, subtype="html")
    message.add_related(JPEG, maintype="image", subtype="jpeg", cid="<shot@example.test>")
    return _bytes(message)


# --------------------------------------------------------------------------- by hand


def encoded_word(text: str, charset: str, encoding: str = "B") -> str:
    """``text`` as one RFC 2047 encoded word in ``charset``."""
    data = text.encode(charset)
    if encoding.upper() == "B":
        payload = base64.b64encode(data).decode("ascii")
    else:
        payload = quopri.encodestring(data, header=True).decode("ascii")
    return f"=?{charset}?{encoding}?{payload}?="


def raw_mail(header_lines: Sequence[str | bytes], body: bytes) -> bytes:
    """A mail exactly as given: header lines (str is UTF-8), a blank line, the body bytes (its
    line ends become CRLF). For broken mails the email package would refuse to build."""
    head = [line.encode() if isinstance(line, str) else line for line in header_lines]
    body = body.replace(b"\r\n", b"\n").replace(b"\n", CRLF)
    return CRLF.join(head) + CRLF + CRLF + body


def _envelope_lines(
    *, from_: str, to: str, subject: str | None, message_id: str | object | None,
    in_reply_to: str | None, references: Iterable[str], date: str | None,
    headers: Sequence[tuple[str, str]],
) -> list[str]:
    lines = [f"From: {from_}", f"To: {to}"]
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if date is not None:
        lines.append(f"Date: {date}")
    if (msg_id := _message_id(message_id)) is not None:
        lines.append(f"Message-ID: {msg_id}")
    if in_reply_to is not None:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if refs := " ".join(references):
        lines.append(f"References: {refs}")
    lines += [f"{name}: {value}" for name, value in headers]
    return lines


def legacy_mail(
    text: str = "Здравствуйте! Не могу пополнить баланс.", *, charset: str = "koi8-r",
    cte: str = "8bit", from_name: str = "Иван Петров", from_address: str = "ivan@example.test",
    to: str = DEFAULT_TO, subject: str = "Баланс", message_id: str | object | None = NEW_ID,
    in_reply_to: str | None = None, references: Iterable[str] = (),
    date: str | None = DEFAULT_DATE, headers: Sequence[tuple[str, str]] = (),
    declared_charset: str | None = "",
) -> bytes:
    """Old Russian mailers: body, subject and sender name in ``charset`` (KOI8-R,
    windows-1251, cp866...), the headers as RFC 2047 words in it. ``cte``: 8bit, base64 or
    quoted-printable. ``declared_charset``: "" declares ``charset``, None declares none, any
    other value declares that (a wrong or unknown one)."""
    data = text.encode(charset)
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        body = quopri.encodestring(data)
    else:
        body = data
    declared = charset if declared_charset == "" else declared_charset
    content_type = "text/plain" + (f'; charset="{declared}"' if declared is not None else "")
    lines = _envelope_lines(
        from_=f"{encoded_word(from_name, charset)} <{from_address}>", to=to,
        subject=encoded_word(subject, charset), message_id=message_id, in_reply_to=in_reply_to,
        references=references, date=date, headers=headers)
    lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}",
              f"Content-Transfer-Encoding: {cte}"]
    return raw_mail(lines, body)


def bounce_mail(
    original: bytes | None = None, *,
    from_: str = "Mail Delivery System <MAILER-DAEMON@mx.example.test>", to: str = DEFAULT_TO,
    subject: str | None = "Undelivered Mail Returned to Sender",
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (), return_path: str | None = "<>",
    auto_submitted: str | None = "auto-replied",
) -> bytes:
    """A Postfix bounce: multipart/report with the human part, message/delivery-status and
    the returned mail (``original``; a small reply of ours by default)."""
    if original is None:
        original = plain_mail("Здравствуйте! Ваш баланс 5 рублей.", from_=DEFAULT_TO,
                              to="ivan@example.test", subject="Re: Баланс")
    boundary = "bounce-boundary-42"
    lines = [] if return_path is None else [f"Return-Path: {return_path}"]
    lines += _envelope_lines(from_=from_, to=to, subject=subject, message_id=message_id,
                             in_reply_to=in_reply_to, references=references, date=date,
                             headers=headers)
    if auto_submitted is not None:
        lines.append(f"Auto-Submitted: {auto_submitted}")
    lines += ["MIME-Version: 1.0",
              ("Content-Type: multipart/report; report-type=delivery-status; "
               f'boundary="{boundary}"')]
    body = b"\n".join([
        b"This is a MIME-encapsulated message.", b"",
        f"--{boundary}".encode(), b"Content-Description: Notification",
        b"Content-Type: text/plain; charset=us-ascii", b"",
        b"I'm sorry to have to inform you that your message could not",
        b"be delivered to one or more recipients.", b"",
        b"<ivan@example.test>: host mx.example.test said: 550 5.1.1 User unknown", b"",
        f"--{boundary}".encode(), b"Content-Description: Delivery report",
        b"Content-Type: message/delivery-status", b"",
        b"Reporting-MTA: dns; mx.example.test", b"",
        b"Final-Recipient: rfc822; ivan@example.test", b"Action: failed", b"Status: 5.1.1", b"",
        f"--{boundary}".encode(), b"Content-Description: Undelivered Message",
        b"Content-Type: message/rfc822", b"",
        original.replace(b"\r\n", b"\n").rstrip(b"\n"), b"",
        f"--{boundary}--".encode(), b"",
    ])
    return raw_mail(lines, body)


def out_of_office_mail(
    text: str = "Я в отпуске до 10 марта. По срочным вопросам звоните коллеге.", *,
    from_: str = DEFAULT_FROM, to: str = DEFAULT_TO,
    subject: str | None = "Автоматический ответ: Re: Баланс",
    message_id: str | object | None = NEW_ID, in_reply_to: str | None = None,
    references: Iterable[str] = (), date: str | None = DEFAULT_DATE,
    headers: Sequence[tuple[str, str]] = (),
    auto_submitted: str = "auto-replied; owner-email=\"ivan@example.test\"",
) -> bytes:
    """An out-of-office reply (Auto-Submitted, plus what Exchange adds)."""
    extra = [("Auto-Submitted", auto_submitted), ("X-Auto-Response-Suppress", "All"), *headers]
    return plain_mail(text, from_=from_, to=to, subject=subject, message_id=message_id,
                      in_reply_to=in_reply_to, references=references, date=date, headers=extra)


def list_mail(
    text: str = "Новости тарифов за март.", *,
    from_: str = "Новости <news@lists.example.test>", to: str = DEFAULT_TO,
    subject: str | None = "[news] Тарифы", message_id: str | object | None = NEW_ID,
    in_reply_to: str | None = None, references: Iterable[str] = (),
    date: str | None = DEFAULT_DATE, headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A mailing-list mail (Mailman style)."""
    extra = [("List-Id", "News <news.lists.example.test>"),
             ("List-Unsubscribe", "<mailto:news-request@lists.example.test?subject=unsubscribe>"),
             ("Precedence", "list"), *headers]
    return plain_mail(text, from_=from_, to=to, subject=subject, message_id=message_id,
                      in_reply_to=in_reply_to, references=references, date=date, headers=extra)

