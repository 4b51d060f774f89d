"""The development SMS gateway: used when ``SMS_GATEWAY_URL`` is not set, so ``make run`` shows
the whole verification flow with no gateway. Nothing is sent: each message is written to the
app's log, one WARNING line on ``abonent.sms.dev``::

    DEVELOPMENT SMS (not sent) to +375 29 ***-**-67: Код Abonent: 123456

That line is the one place where a one-time code reaches a log, by design, and the reason this
gateway refuses to exist when ``ABONENT_ENV=production``. The last messages are also kept in
memory (``sent``) for tests and the demo page.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.phones import is_e164, mask_phone

__all__ = ["DevelopmentSms", "DevelopmentSmsGateway"]

log = logging.getLogger("abonent.sms.dev")


@dataclass(frozen=True, slots=True)
class DevelopmentSms:
    to: str  # E.164 with "+"
    text: str
    at: datetime  # UTC


class DevelopmentSmsGateway:
    """:class:`bot.backoffice_contract.SmsGateway` that logs instead of sending."""

    def __init__(self, *, environment: str, keep: int = 50) -> None:
        """``environment``: ``ABONENT_ENV`` as set ("production" is refused, in any case);
        ``keep``: how many of the latest messages ``sent`` remembers."""
        if environment.strip().lower() == "production":
            raise ValueError("the development SMS gateway (codes written to the log) is "
                             "refused in production: set SMS_GATEWAY_URL")
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.environment = environment
        self._sent: deque[DevelopmentSms] = deque(maxlen=keep)
        self._lock = threading.Lock()  # the demo page may read from another thread

    def __repr__(self) -> str:
        return f"DevelopmentSmsGateway(environment={self.environment!r})"

    @property
    def sent(self) -> list[DevelopmentSms]:
        """The latest messages, oldest first (at most ``keep``)."""
        with self._lock:
            return list(self._sent)

    async def send(self, to: str, text: str) -> None:
        """Log ``text`` for ``to`` (masked) and remember it; ValueError like the real gateway
        for a number that is not E.164 or an empty text."""
        if not is_e164(to):
            raise ValueError("'to' must be an E.164 phone number: '+', the country code and "
                             "digits, no spaces")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the SMS text must be a non-empty string")
        with self._lock:
            self._sent.append(DevelopmentSms(to, text, datetime.now(UTC)))
        # one line whatever the text holds: a newline must not forge another log record
        one_line = " ".join(text.split())
        log.warning("DEVELOPMENT SMS (not sent) to %s: %s", mask_phone(to), one_line)
