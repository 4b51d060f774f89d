"""aiogram's errors -> the channel error tree the outbox sender understands (``bot.channel``).

- ``TelegramRetryAfter`` (429, flood control) -> ``TemporaryChannelError(retry_after=...)``;
- ``TelegramForbiddenError`` (403: the user blocked the bot, or is deactivated) ->
  ``RecipientGoneError`` (not retried; the identity is marked blocked);
- ``TelegramBadRequest`` (400), ``TelegramEntityTooLarge`` (413), ``TelegramMigrateToChat`` ->
  ``PermanentChannelError`` with Telegram's reason (logged, not retried);
- everything else aiogram raises -> ``TemporaryChannelError``: 5xx, network errors and timeouts,
  an undecodable answer, and 401/404/409 (a wrong token or API base: the replies wait, bounded
  by ``OUTBOX_MAX_ATTEMPTS``, while someone fixes it).
"""

from __future__ import annotations

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)

from bot.channel import (
    ChannelError,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)


def channel_error(exc: BaseException, *, secret: str = "") -> ChannelError | None:
    """The channel error for an aiogram failure; None when ``exc`` is not one (a bug: re-raise).

    ``secret`` (the bot token) is scrubbed from the message, which may quote a URL.
    """
    if not isinstance(exc, TelegramAPIError | ClientDecodeError):
        return None
    reason = _describe(exc, secret)
    if isinstance(exc, TelegramRetryAfter):
        return TemporaryChannelError(reason, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return RecipientGoneError(reason)
    if isinstance(exc, TelegramBadRequest | TelegramEntityTooLarge | TelegramMigrateToChat):
        return PermanentChannelError(reason)
    return TemporaryChannelError(reason)


def _describe(exc: BaseException, secret: str) -> str:
    message = getattr(exc, "message", None) if isinstance(exc, TelegramAPIError) else None
    text = f"{type(exc).__name__}: {message if message is not None else exc}"
    if secret:
        text = text.replace(secret, "***")
    return text[:500]
