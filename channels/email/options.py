"""The e-mail settings, checked once: the IMAP mailbox the bot reads, the SMTP server it sends
through, and the address its replies come from.

``from_values`` takes the raw strings of ``EMAIL_*`` (as the environment gives them: ``None`` or
``""`` mean unset) and raises :class:`EmailConfigError` naming the variable that is wrong. A
password never appears in a ``repr`` or an error message.

``none`` security (no TLS at all) is meant for a server on this machine; for any other host it
is allowed, but :meth:`EmailOptions.warnings` returns a sentence for the log, because the
password then crosses the network in clear text.

Default ports follow the security: IMAP 993 for ``ssl``, 143 for ``starttls``/``none``; SMTP
587 for ``starttls``, 465 for ``ssl``, 25 for ``none`` (a relay on this machine).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal, cast

ImapSecurity = Literal["ssl", "starttls", "none"]
SmtpSecurity = Literal["starttls", "ssl", "none"]

IMAP_PORTS: dict[str, int] = {"ssl": 993, "starttls": 143, "none": 143}
SMTP_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}

# A bare address (no display name): what RFC 5321 needs for the envelope, and enough to check a
# setting; anything fancier (quoted local parts, IP literals) is not worth a support mailbox.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EmailConfigError(ValueError):
    """The e-mail settings are incomplete or malformed (the message says which variable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImapOptions:
    host: str
    port: int = 993
    user: str
    password: str = field(repr=False)
    security: ImapSecurity = "ssl"
    folder: str = "INBOX"

    def warning(self) -> str | None:
        if self.security != "none" or is_loopback(self.host):
            return None
        return (f"EMAIL_IMAP_SECURITY=none: the IMAP connection to {self.host} is not encrypted "
                "and sends the password in clear text")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpOptions:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: SmtpSecurity = "starttls"

    def warning(self) -> str | None:
        if self.security != "none" or is_loopback(self.host):
            return None
        if self.user is not None:
            return (f"EMAIL_SMTP_SECURITY=none: the SMTP connection to {self.host} is not "
                    "encrypted and sends the password in clear text")
        return (f"EMAIL_SMTP_SECURITY=none: the SMTP connection to {self.host} is not encrypted "
                "(replies travel in clear text)")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailOptions:
    imap: ImapOptions
    smtp: SmtpOptions
    from_address: str

    @property
    def domain(self) -> str:
        """The domain of ``from_address``: where our Message-IDs live."""
        return self.from_address.rsplit("@", 1)[1].lower()

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never reach a log (scrubbed from error messages)."""
        return tuple(s for s in (self.imap.password, self.smtp.password) if s)

    def warnings(self) -> list[str]:
        """Sentences to log once at start (settings that work but are unsafe)."""
        return [w for w in (self.imap.warning(), self.smtp.warning()) if w is not None]

    @classmethod
    def from_values(
        cls,
        *,
        imap_host: str | None = None,
        imap_port: str | None = None,
        imap_user: str | None = None,
        imap_password: str | None = None,
        imap_security: str | None = None,
        imap_folder: str | None = None,
        smtp_host: str | None = None,
        smtp_port: str | None = None,
        smtp_user: str | None = None,
        smtp_password: str | None = None,
        smtp_security: str | None = None,
        from_address: str | None = None,
    ) -> EmailOptions:
        """Options from the raw ``EMAIL_*`` strings (``from_address`` is ``EMAIL_FROM``)."""
        imap_sec = cast(ImapSecurity, _security("EMAIL_IMAP_SECURITY", imap_security, "ssl",
                                                ("ssl", "starttls", "none")))
        imap_user_value = _required("EMAIL_IMAP_USER", imap_user)
        if _CONTROL.search(imap_user_value):
            raise EmailConfigError("EMAIL_IMAP_USER contains a control character or line break")
        imap = ImapOptions(
            host=_host("EMAIL_IMAP_HOST", imap_host),
            port=_port("EMAIL_IMAP_PORT", imap_port, IMAP_PORTS[imap_sec]),
            user=imap_user_value,
            password=_password("EMAIL_IMAP_PASSWORD", imap_password),
            security=imap_sec,
            folder=_folder(imap_folder),
        )
        smtp_sec = cast(SmtpSecurity, _security("EMAIL_SMTP_SECURITY", smtp_security,
                                                "starttls", ("starttls", "ssl", "none")))
        user = _optional(smtp_user)
        password = _password("EMAIL_SMTP_PASSWORD", smtp_password) if _present(smtp_password) \
            else None
        if user is not None and password is None:
            raise EmailConfigError(
                "EMAIL_SMTP_USER is set but EMAIL_SMTP_PASSWORD is not (set both, or neither "
                "for a server that needs no login)")
        if password is not None and user is None:
            raise EmailConfigError("EMAIL_SMTP_PASSWORD is set but EMAIL_SMTP_USER is not")
        if user is not None and _CONTROL.search(user):
            raise EmailConfigError("EMAIL_SMTP_USER contains a control character or line break")
        smtp = SmtpOptions(
            host=_host("EMAIL_SMTP_HOST", smtp_host),
            port=_port("EMAIL_SMTP_PORT", smtp_port, SMTP_PORTS[smtp_sec]),
            user=user,
            password=password,
            security=smtp_sec,
        )
        return cls(imap=imap, smtp=smtp, from_address=_from_address(from_address, imap.user))


def is_address(value: str) -> bool:
    """A bare e-mail address such as ``support@example.com`` (no display name)."""
    return _ADDRESS.fullmatch(value) is not None and ".." not in value.split("@", 1)[1]


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _optional(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def _required(name: str, value: str | None) -> str:
    found = _optional(value)
    if found is None:
        raise EmailConfigError(f"{name} is not set")
    return found


def _host(name: str, value: str | None) -> str:
    host = _required(name, value)
    if "://" in host or not _HOST.fullmatch(host):
        raise EmailConfigError(
            f"{name} must be a host name or IP address such as mail.example.com (no scheme, "
            f"no port), not {host[:100]!r}")
    return host


def _port(name: str, value: str | None, default: int) -> int:
    text = _optional(value)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise EmailConfigError(f"{name} must be a port number (1-65535), not {text[:20]!r}")
    return int(text)


def _security(name: str, value: str | None, default: str, allowed: tuple[str, ...]) -> str:
    text = _optional(value)
    if text is None:
        return default
    if text.lower() not in allowed:
        raise EmailConfigError(
            f"{name} must be one of {', '.join(allowed)}, not {text[:20]!r}")
    return text.lower()


def _password(name: str, value: str | None) -> str:
    """A password keeps its spaces; only the line break a secrets file ends with is dropped."""
    if not _present(value):
        raise EmailConfigError(f"{name} is not set")
    password = cast(str, value).strip("\r\n")
    if any(c in password for c in "\r\n\x00"):
        raise EmailConfigError(f"{name} contains a line break or NUL character")
    return password


def _folder(value: str | None) -> str:
    folder = _optional(value) or "INBOX"
    if _CONTROL.search(folder):
        raise EmailConfigError("EMAIL_IMAP_FOLDER contains a control character or line break")
    return "INBOX" if folder.upper() == "INBOX" else folder


def _from_address(value: str | None, imap_user: str) -> str:
    given = _optional(value)
    if given is None:
        if not is_address(imap_user):
            raise EmailConfigError(
                "EMAIL_FROM is not set and EMAIL_IMAP_USER is not an e-mail address: set "
                "EMAIL_FROM to the support address replies come from")
        return imap_user
    if not is_address(given):
        raise EmailConfigError(
            f"EMAIL_FROM must be a bare e-mail address such as support@example.com, not "
            f"{given[:100]!r}")
    return given
