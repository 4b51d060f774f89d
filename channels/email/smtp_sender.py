"""Sends one e-mail through the configured SMTP server (aiosmtplib, one connection per mail) and
maps every failure to the channel error tree the outbox sender understands (``bot.channel``).

- the recipient refused with 5xx at RCPT (no such user, mailbox disabled) ->
  ``RecipientGoneError``: the address is marked failed, nothing is retried;
- 5xx at MAIL FROM or DATA (the message itself is refused: too big, spam, policy) ->
  ``PermanentChannelError``;
- any 4xx (greylisting, a full queue, 421 service closing) -> ``TemporaryChannelError`` with a
  minute's pause;
- the login refused (535), or a server that demands one (530) -> ``TemporaryChannelError``:
  the replies wait, bounded by the outbox's attempts, while the operator fixes
  ``EMAIL_SMTP_USER``/``EMAIL_SMTP_PASSWORD``; likewise a server without STARTTLS when
  ``EMAIL_SMTP_SECURITY=starttls`` (the mail is never sent in clear instead) or a certificate
  that is not trusted;
- timeouts, refused or dropped connections -> ``TemporaryChannelError``.

A reason names the SMTP stage and code and keeps the server's text, with any e-mail address in
it masked; it never holds the password or the body.
"""

from __future__ import annotations

import re
import ssl
from email.message import EmailMessage

import aiosmtplib

from bot.channel import (
    ChannelError,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from channels.email.options import SmtpOptions

RETRY_AFTER_4XX = 60.0
RETRY_AFTER_CONFIG = 60.0  # a login or TLS set-up the operator has to fix
AUTH_REQUIRED = 530
_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+")
_SPACES = re.compile(r"\s+")
_ENVELOPE_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


class SmtpSender:
    def __init__(self, options: SmtpOptions, *, timeout: float = 30) -> None:
        self._options = options
        self._timeout = timeout

    async def send(self, message: EmailMessage, *, recipient: str) -> None:
        """Deliver ``message`` to ``recipient`` (the envelope; the headers are the message's).
        Raises a :class:`~bot.channel.ChannelError` subclass on failure."""
        if not _ENVELOPE_ADDRESS.fullmatch(recipient):
            # aiosmtplib would take the first address it can parse out of anything
            raise PermanentChannelError("SMTP: the recipient is not a bare e-mail address")
        options = self._options
        try:
            await aiosmtplib.send(
                message,
                recipients=[recipient],
                hostname=options.host,
                port=options.port,
                username=options.user,
                password=options.password,
                use_tls=options.security == "ssl",
                start_tls=options.security == "starttls",
                timeout=self._timeout,
            )
        except Exception as exc:
            error = channel_error(exc, secrets=(options.password or "",))
            if error is None:
                raise
            raise error from None


def channel_error(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> ChannelError | None:
    """The channel error for an aiosmtplib (or network) failure; None when ``exc`` is neither
    (a bug: re-raise it)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        if not exc.recipients:
            return TemporaryChannelError("SMTP RCPT: every recipient was refused")
        return _recipient_error(exc.recipients[0], secrets)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return _recipient_error(exc, secrets)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return TemporaryChannelError(
            f"SMTP AUTH: {_reply(exc, secrets)} (check EMAIL_SMTP_USER and EMAIL_SMTP_PASSWORD)",
            retry_after=RETRY_AFTER_CONFIG)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        if exc.code == AUTH_REQUIRED:
            return TemporaryChannelError(
                f"SMTP MAIL FROM: {_reply(exc, secrets)} (the server wants a login: set "
                "EMAIL_SMTP_USER and EMAIL_SMTP_PASSWORD)", retry_after=RETRY_AFTER_CONFIG)
        return _by_code("MAIL FROM", exc, secrets)
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return _by_code("DATA", exc, secrets)
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # greeting, EHLO, STARTTLS, RSET
        retry = RETRY_AFTER_4XX if 400 <= exc.code < 500 else None
        return TemporaryChannelError(f"SMTP: {_reply(exc, secrets)}", retry_after=retry)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # SMTPUTF8 for a non-ASCII address
        return PermanentChannelError(f"SMTP: {_text(exc.message, secrets)}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TemporaryChannelError("SMTP: timed out")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return TemporaryChannelError(f"SMTP: {_text(exc.message, secrets)}")
    if isinstance(exc, aiosmtplib.SMTPException):  # no STARTTLS or AUTH offered, and such
        return TemporaryChannelError(f"SMTP: {_text(exc.message, secrets)}",
                                     retry_after=RETRY_AFTER_CONFIG)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TemporaryChannelError(
            f"SMTP TLS: the server's certificate is not trusted ({exc.verify_message})",
            retry_after=RETRY_AFTER_CONFIG)
    if isinstance(exc, OSError):
        return TemporaryChannelError(f"SMTP: {type(exc).__name__}: {exc.strerror or ''}".strip())
    if isinstance(exc, ValueError):  # an address that cannot go on an SMTP command line
        return PermanentChannelError(f"SMTP: unusable address or message ({type(exc).__name__})")
    return None


def _recipient_error(refused: aiosmtplib.SMTPRecipientRefused,
                     secrets: tuple[str, ...]) -> ChannelError:
    reason = f"SMTP RCPT TO: {_reply(refused, secrets)}"
    if 500 <= refused.code < 600:
        return RecipientGoneError(reason)
    return TemporaryChannelError(reason, retry_after=RETRY_AFTER_4XX)


def _by_code(stage: str, exc: aiosmtplib.SMTPResponseException,
             secrets: tuple[str, ...]) -> ChannelError:
    reason = f"SMTP {stage}: {_reply(exc, secrets)}"
    if 500 <= exc.code < 600:
        return PermanentChannelError(reason)
    return TemporaryChannelError(reason, retry_after=RETRY_AFTER_4XX)


def _reply(exc: aiosmtplib.SMTPResponseException, secrets: tuple[str, ...]) -> str:
    return f"{exc.code} {_text(exc.message, secrets)}"


def _text(text: str, secrets: tuple[str, ...]) -> str:
    """The server's words on one line, without secrets or addresses, at most 200 characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _ADDRESS.sub("<address>", _SPACES.sub(" ", text)).strip()[:200]
