"""What every channel adapter implements, and the error tree the outbox sender understands.

Error tree::

    ChannelError                 a send failed
    ├── TemporaryChannelError    try again later (network, 5xx); ``retry_after`` when known (429)
    └── PermanentChannelError    never retry this message (bad request, message too long)
        └── RecipientGoneError   the subscriber blocked the bot / the address no longer exists
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.messages import OutboundMessage


class ChannelError(Exception):
    """A message could not be delivered through a channel."""


class TemporaryChannelError(ChannelError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Retrying cannot help; the reason is logged and the outbox row marked failed."""


class RecipientGoneError(PermanentChannelError):
    """The recipient blocked the bot or no longer exists; the identity is marked blocked."""


@runtime_checkable
class Channel(Protocol):
    """A way to reach subscribers. ``send`` is called by the outbox sender only.

    ``per_address_interval`` and ``global_rate`` are the platform's rate limits (seconds between
    two messages to one address, messages per second overall); the shared sender enforces them.
    """

    name: str
    per_address_interval: float
    global_rate: float

    async def send(self, address: str, message: OutboundMessage) -> None: ...
