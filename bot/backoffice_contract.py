"""What the core needs from the operator's back office: billing (the subscriber's figures,
roaming, bonuses) and an SMS gateway (one-time codes). ``backoffice/`` implements both over
HTTP, and as an embedded demo when no back office is configured.

``msisdn`` is always E.164 digits without "+" (``375291234567``). Personal figures returned
here are never logged and never cached across subscribers.

Error tree::

    BackofficeError          the system could not answer (down, timed out, 5xx, a bad answer):
                             say so honestly, never invent a figure
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class BackofficeError(Exception):
    """The back-office system could not answer; the message is safe to log (no personal data)."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217: "BYN"


@dataclass(frozen=True, slots=True)
class SubscriberAccount:
    msisdn: str
    balance: Money
    tariff: str | None
    roaming_enabled: bool
    status: str  # "active", "blocked"... as the billing says


@dataclass(frozen=True, slots=True)
class Bonus:
    kind: str  # "traffic_mb"
    amount: int
    reason: str
    idempotency_key: str
    used: bool
    granted_at: datetime | None = None


class Billing(Protocol):
    async def subscriber(self, msisdn: str) -> SubscriberAccount | None:
        """The account, or None when the number is not the operator's (404)."""

    async def set_roaming(self, msisdn: str, enabled: bool) -> bool:
        """Turn roaming on or off; returns the state the billing reports afterwards."""

    async def grant_bonus(self, msisdn: str, *, kind: str, amount: int, reason: str,
                          idempotency_key: str) -> None:
        """Grant once per ``idempotency_key`` (a repeat is not a second bonus)."""

    async def bonuses(self, msisdn: str) -> list[Bonus]: ...


class SmsGateway(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Send ``text`` to ``to`` (E.164 with "+"); raises BackofficeError when it cannot."""
