"""Keeping the Rasa token out of log lines: httpx logs every request URL at INFO, and Rasa's
scheme puts the token in the URL (``?token=...``)."""

from __future__ import annotations

import logging
import re

__all__ = ["install_token_redaction", "redact_token"]

_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"'>]+")


def redact_token(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1***", text)


class _RedactToken(logging.Filter):
    """Masks ``token=...`` in log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg = redact_token(message)
            record.args = ()
        return True


_REDACTOR = _RedactToken()


def install_token_redaction(*logger_names: str) -> None:
    """Mask the token in the ``httpx`` logger's lines (and in the named loggers'). Idempotent;
    called by whatever talks to Rasa before its first request."""
    for name in ("httpx", *logger_names):
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
