"""The outside half of personal answers: billing lookups, codes by SMS, roaming switches.

:class:`PersonalData` does what :meth:`bot.policy.DialoguePolicy.needs` asks, before the
transaction that stores the answer opens (a billing or SMS gateway timeout must not hold the
database), and hands :class:`bot.personal_policy.PersonalFacts` to the policy. It also ends a
verification that outlived its channel's time (``VERIFICATION_TTL``).

Personal figures pass through here in memory only: nothing is logged but masked numbers and
outcomes, nothing is cached (each question asks the billing again), and nothing reaches the NLU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.backoffice_contract import BackofficeError, Billing
from bot.messages import utcnow
from bot.personal_policy import (
    AccountLookup,
    Need,
    NeedAccount,
    NeedCheck,
    NeedCode,
    NeedForget,
    NeedRoaming,
    PersonalFacts,
)
from bot.phones import mask_phone, msisdn
from bot.verification import VerificationService

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(days=90)


class PersonalData:
    def __init__(
        self,
        billing: Billing,
        verification: VerificationService,
        *,
        ttls: Mapping[str, timedelta] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``ttls``: how long a verification lasts per channel (key "default" for the rest)."""
        self.billing = billing
        self.verification = verification
        self._ttls = dict(ttls or {})
        self._clock = clock

    def lasts(self, channel: str) -> timedelta:
        return self._ttls.get(channel) or self._ttls.get("default") or DEFAULT_TTL

    def is_current(self, channel: str, verified_at: datetime) -> bool:
        """Whether a verification made at ``verified_at`` on ``channel`` still lasts."""
        since = verified_at if verified_at.tzinfo is not None else verified_at.replace(tzinfo=UTC)
        return self._clock().astimezone(UTC) - since < self.lasts(channel)

    async def current_phone(
        self, identity_id: int, channel: str, phone: str | None, verified_at: datetime | None
    ) -> str | None:
        """The identity's verified number, or None once its verification has lapsed (then it
        is ended for good, audited as ``lapsed``)."""
        if phone is None:
            return None
        if verified_at is not None and self.is_current(channel, verified_at):
            return phone
        await self.verification.lapse(identity_id)
        return None

    async def gather(self, need: Need, *, identity_id: int, phone: str | None,
                     text: str) -> PersonalFacts:
        """Do what ``need`` asks for the identity (``phone``: its verified number, ``text``:
        the subscriber's message, for a code). Billing failures become facts, not errors."""
        minutes = max(1, int(self.verification.code_ttl.total_seconds() // 60))
        if isinstance(need, NeedAccount):
            return PersonalFacts(need, account=await self._account(phone))
        if isinstance(need, NeedCode):
            request = await self.verification.request_code(identity_id, need.phone)
            return PersonalFacts(need, code_request=request, code_ttl_minutes=minutes)
        if isinstance(need, NeedCheck):
            check = await self.verification.check_code(identity_id, text)
            account = None
            if check.status == "verified" and need.then_account:
                account = await self._account(check.phone)
            return PersonalFacts(need, code_check=check, account=account)
        if isinstance(need, NeedRoaming):
            return PersonalFacts(need, roaming=await self._switch(phone, need.enabled))
        assert isinstance(need, NeedForget)
        return PersonalFacts(need, forgotten=await self.verification.forget(identity_id))

    async def _account(self, phone: str | None) -> AccountLookup:
        if phone is None:
            return AccountLookup("unavailable")
        try:
            account = await self.billing.subscriber(msisdn(phone))
        except BackofficeError as exc:  # safe to log: the contract keeps personal data out
            log.warning("billing lookup for %s failed: %s", mask_phone(phone), exc)
            return AccountLookup("unavailable")
        if account is None:
            return AccountLookup("not_found")
        return AccountLookup("ok", account)

    async def _switch(self, phone: str | None, enabled: bool) -> bool | None:
        if phone is None:
            return None
        try:
            state = await self.billing.set_roaming(msisdn(phone), enabled)
        except BackofficeError as exc:
            log.warning("roaming switch for %s failed: %s", mask_phone(phone), exc)
            return None
        log.info("roaming for %s switched %s", mask_phone(phone), "on" if state else "off")
        return state
