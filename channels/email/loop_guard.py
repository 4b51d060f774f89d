"""Which mails must never get an automatic reply, and why (RFC 3834 §2 and what real servers send).

Answering an out-of-office, a bounce, a mailing list or ourselves starts a mail loop or mails a
whole list. The check reads the raw header values (``raw_items``), never the parsed header
objects: a malformed header must not make the guard raise and let the mail through.

The reason is logged, so it names the rule and a fixed vocabulary (header names, keywords such as
``auto-replied``, address patterns such as ``mailer-daemon@``) and never an address or free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message
from email.utils import getaddresses

# Bigger or deeper than this is not a delivery report anyone sends; stop looking.
MAX_PARTS = 200
MAX_DEPTH = 20

_LIST_HEADERS = (
    "List-Id", "List-Unsubscribe", "List-Post", "Archived-At",
    "List-Help", "List-Subscribe", "List-Owner", "List-Archive",
)
_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})
_SUPPRESS = {"all": "All", "autoreply": "AutoReply", "oof": "OOF", "dr": "DR", "rn": "RN",
             "nrn": "NRN"}
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
_REPORTS = {
    "multipart/report": "bounce or receipt (multipart/report)",
    "message/delivery-status": "delivery report (message/delivery-status)",
    "message/global-delivery-status": "delivery report (message/global-delivery-status)",
    "message/disposition-notification": "read receipt (message/disposition-notification)",
}
# Local parts of robots; "+tag" sub-addresses are ignored ("bounces+123@" is "bounces@").
_ROBOTS = {
    "mailer-daemon": "mailer-daemon@", "postmaster": "postmaster@",
    "noreply": "noreply@", "no-reply": "no-reply@", "no_reply": "no-reply@",
    "do-not-reply": "do-not-reply@", "do_not_reply": "do-not-reply@",
    "donotreply": "donotreply@", "bounce": "bounce@", "bounces": "bounces@",
}
_KEYWORD = re.compile(r"[a-z0-9_.-]{1,40}")
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def header_values(message: Message, name: str) -> list[str]:
    """The raw values of every ``name`` header, unfolded (8-bit bytes stay surrogate-escaped)."""
    wanted = name.lower()
    values: list[str] = []
    for key, value in message.raw_items():
        if str(key).lower() == wanted:
            values.append(_FOLD.sub("", str(value)).replace("\r", "").replace("\n", " ").strip())
    return values


def first_header(message: Message, name: str) -> str | None:
    values = header_values(message, name)
    return values[0] if values else None


def addresses(value: str) -> list[tuple[str, str]]:
    """``(display name, address)`` pairs of a header value, addresses stripped and lower-cased
    (a bare ``MAILER-DAEMON`` counts: bounces come from it); [] when unparseable."""
    try:
        pairs = getaddresses([value])
    except Exception:  # noqa: BLE001 - the stdlib parser on hostile input: nothing usable
        return []
    found = []
    for name, address in pairs:
        address = address.strip().lower()
        if address and not any(ch.isspace() for ch in address):
            found.append((name, address))
    return found


def address_of(value: str) -> str:
    """The first real address (with an ``@``) in a header value, lower-cased; "" when none."""
    return next((address for _name, address in addresses(value) if "@" in address), "")


def content_type(part: Message) -> str:
    """``type/subtype`` from the raw header, lower-cased; the part's default when unusable."""
    value = first_header(part, "Content-Type")
    if value is not None:
        ctype = value.split(";", 1)[0].strip().lower()
        if _CONTENT_TYPE.fullmatch(ctype):
            return ctype
    return part.get_default_type()


def loop_reason(message: Message, *, own_addresses: Iterable[str]) -> str | None:
    """Why ``message`` must never get an automatic reply, or None when it may get one."""
    for check in (_own_address(message, own_addresses), _auto_submitted(message),
                  _empty_envelope(message), _report(message), _precedence(message),
                  _mailing_list(message), _suppressed(message), _autoreply(message),
                  _robot_sender(message)):
        if check is not None:
            return check
    return None


def _own_address(message: Message, own_addresses: Iterable[str]) -> str | None:
    own = {address_of(address) or address.strip().lower() for address in own_addresses}
    own.discard("")
    if not own:
        return None
    for name in ("From", "Sender", "Reply-To", "Return-Path"):
        for value in header_values(message, name):
            if address_of(value) in own:
                return "our own address"
    return None


def _auto_submitted(message: Message) -> str | None:
    for value in header_values(message, "Auto-Submitted"):
        keyword = value.split(";", 1)[0].strip().lower()
        if keyword == "no":
            continue
        if _KEYWORD.fullmatch(keyword):
            return f"Auto-Submitted: {keyword}"
        return "Auto-Submitted present"
    return None


def _empty_envelope(message: Message) -> str | None:
    for value in header_values(message, "Return-Path"):
        if "".join(value.split()) in ("<>", ""):
            return "empty envelope sender"
    return None


def _report(message: Message) -> str | None:
    """A bounce or receipt: multipart/report, or a status part outside attached messages."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        ctype = content_type(part)
        if ctype in _REPORTS:
            return _REPORTS[ctype]
        if ctype.startswith("message/") or depth >= MAX_DEPTH or not part.is_multipart():
            continue  # a forwarded bounce inside a person's mail is that person's question
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload)
                         if isinstance(child, Message))
    return None


def _precedence(message: Message) -> str | None:
    for value in header_values(message, "Precedence"):
        keyword = value.split(";", 1)[0].strip().lower()
        if keyword in _PRECEDENCE:
            return f"Precedence: {keyword}"
    return None


def _mailing_list(message: Message) -> str | None:
    for name in _LIST_HEADERS:
        if header_values(message, name):
            return f"mailing list ({name})"
    return None


def _suppressed(message: Message) -> str | None:
    for value in header_values(message, "X-Auto-Response-Suppress"):
        for token in re.split(r"[\s,;]+", value.lower()):
            if token in _SUPPRESS:
                return f"X-Auto-Response-Suppress: {_SUPPRESS[token]}"
    return None


def _autoreply(message: Message) -> str | None:
    for name in _AUTOREPLY_HEADERS:
        if header_values(message, name):
            return f"autoreply header ({name})"
    return None


def _robot_sender(message: Message) -> str | None:
    for name in ("From", "Sender", "Return-Path"):
        for value in header_values(message, name):
            for _name, address in addresses(value):
                local = address.rsplit("@", 1)[0].split("+", 1)[0]
                if local in _ROBOTS:
                    return f"sender {_ROBOTS[local]}"
                if local.startswith("owner-"):
                    return "sender owner-…@"
                if local.endswith("-request"):
                    return "sender …-request@"
    return None
