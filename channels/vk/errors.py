"""vk-api's errors -> the channel error tree the outbox sender understands (``bot.channel``).

- VK error 6 (too many requests per second), 9 (flood control), 10 (internal server error) and
  1 (unknown error) -> ``TemporaryChannelError`` with a pause;
- 901 (the user does not allow messages from the community), 902 (privacy settings) ->
  ``RecipientGoneError`` (not retried; the identity is marked blocked, as Telegram's 403);
- 5 (the token was rejected) -> ``TemporaryChannelError``: the replies wait, bounded by
  ``OUTBOX_MAX_ATTEMPTS``, while someone fixes ``VK_GROUP_TOKEN``;
- every other VK error (100 bad parameter, 911 bad keyboard, 914 too long...) ->
  ``PermanentChannelError`` with VK's message (logged, not retried);
- vk-api's other errors (a captcha, error 14: a bot cannot solve it) -> ``PermanentChannelError``;
- a non-2xx HTTP answer, a network error or timeout, an answer that is not JSON ->
  ``TemporaryChannelError`` (a send that timed out may have been delivered: it is retried with
  the same ``random_id``, which VK deduplicates).
"""

from __future__ import annotations

import requests
import vk_api

from bot.channel import (
    ChannelError,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)

PAUSES = {6: 1.0, 9: 30.0, 10: 5.0, 1: 5.0, 5: 60.0}  # seconds before the next try
RECIPIENT_GONE = frozenset({901, 902})


def channel_error(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> ChannelError | None:
    """The channel error for a vk-api failure; None when ``exc`` is not one (a bug: re-raise).

    ``secrets`` (the token) are scrubbed from the message, which may quote a URL.
    """
    reason = describe(exc, secrets)
    if isinstance(exc, vk_api.ApiError):
        if exc.code in PAUSES:
            return TemporaryChannelError(reason, retry_after=PAUSES[exc.code])
        if exc.code in RECIPIENT_GONE:
            return RecipientGoneError(reason)
        return PermanentChannelError(reason)
    if isinstance(exc, vk_api.ApiHttpError | requests.RequestException | ValueError):
        return TemporaryChannelError(reason)  # ValueError: the answer was not JSON
    if isinstance(exc, vk_api.VkApiError):  # e.g. a captcha (error 14): no one to solve it
        return PermanentChannelError(reason)
    return None


def describe(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """One line for a log: VK's error code and message, or the HTTP/network failure."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]
