"""The embedded demo billing: a handful of fictional subscribers from YAML, for running without a
back office (no ``BILLING_URL``), so ``make run`` shows the whole personalised flow.

``DemoBilling.load()`` reads ``backoffice/data/demo_subscribers.yml`` (or the given file) and
validates it at once: every problem found (a missing or ill-typed field, an unknown one, a
duplicate msisdn or bonus key, a currency that is not an ISO 4217 code, a YAML syntax error)
is reported together in :class:`DemoDataError`, each as ``"FILE:LINE: FIELD: MESSAGE"``, the
way the knowledge base reports its files.

It implements :class:`bot.backoffice_contract.Billing` like the HTTP billing does (the same
msisdn and grant checks, ValueError before anything else): ``subscriber()`` is None for any
number not in the file; roaming toggles and granted bonuses (once per idempotency key) live in
this object's memory only, so they last as long as the process and never reach the file. The
operations the HTTP billing would refuse with 404 (roaming, bonuses of an unknown number) raise
:class:`BackofficeError` here too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.billing_http import check_bonus_request, check_msisdn
from bot.backoffice_contract import BackofficeError, Bonus, Money, SubscriberAccount
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import Loc, YamlDocument, display_path, read_yaml

__all__ = ["DEFAULT_DEMO_DATA", "DemoBilling", "DemoDataError"]

log = logging.getLogger(__name__)

DEFAULT_DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo_subscribers.yml"

_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")


class DemoDataError(ValueError):
    """The demo data file is invalid; ``problems`` lists each as "FILE:LINE: FIELD: MESSAGE"."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems) or ["the demo data is invalid"]
        super().__init__("\n".join(self.problems))


class DemoBilling:
    """Fictional subscribers in memory. One per process; not shared between processes."""

    def __init__(
        self,
        accounts: Iterable[SubscriberAccount] = (),
        bonuses: Mapping[str, Iterable[Bonus]] | None = None,
    ) -> None:
        self._accounts: dict[str, SubscriberAccount] = {}
        for account in accounts:
            check_msisdn(account.msisdn)
            if account.msisdn in self._accounts:
                raise ValueError("two demo accounts have the same msisdn")
            self._accounts[account.msisdn] = account
        self._bonuses: dict[str, dict[str, Bonus]] = {}
        for msisdn, granted in (bonuses or {}).items():
            if msisdn not in self._accounts:
                raise ValueError("demo bonuses for a number that has no demo account")
            self._bonuses[msisdn] = {bonus.idempotency_key: bonus for bonus in granted}

    @classmethod
    def load(cls, path: Path | None = None) -> DemoBilling:
        """The subscribers of ``path`` (default: backoffice/data/demo_subscribers.yml);
        DemoDataError lists every problem of the file."""
        path = Path(path) if path is not None else DEFAULT_DEMO_DATA
        accounts, bonuses = _read(path)
        log.info("demo billing: %d fictional subscribers from %s", len(accounts),
                 display_path(path))
        return cls(accounts, bonuses)

    @property
    def msisdns(self) -> tuple[str, ...]:
        """The demo numbers, in the file's order."""
        return tuple(self._accounts)

    def __repr__(self) -> str:
        return f"DemoBilling({len(self._accounts)} demo subscribers)"

    # -- the Billing protocol ----------------------------------------------------------------

    async def subscriber(self, msisdn: str) -> SubscriberAccount | None:
        return self._accounts.get(check_msisdn(msisdn))

    async def set_roaming(self, msisdn: str, enabled: bool) -> bool:
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        account = self._known(msisdn)
        self._accounts[msisdn] = replace(account, roaming_enabled=enabled)
        return enabled

    async def grant_bonus(
        self, msisdn: str, *, kind: str, amount: int, reason: str, idempotency_key: str
    ) -> None:
        check_msisdn(msisdn)
        check_bonus_request(kind, amount, reason, idempotency_key)
        self._known(msisdn)
        granted = self._bonuses.setdefault(msisdn, {})
        earlier = granted.get(idempotency_key)
        if earlier is not None:
            if (earlier.kind, earlier.amount) != (kind, amount):
                raise BackofficeError(
                    "demo billing: the idempotency key was used before for a different bonus"
                )
            return  # the same grant again: already there
        granted[idempotency_key] = Bonus(kind=kind, amount=amount, reason=reason,
                                         idempotency_key=idempotency_key, used=False,
                                         granted_at=datetime.now(UTC))

    async def bonuses(self, msisdn: str) -> list[Bonus]:
        self._known(msisdn)
        return list(self._bonuses.get(msisdn, {}).values())

    def _known(self, msisdn: str) -> SubscriberAccount:
        account = self._accounts.get(check_msisdn(msisdn))
        if account is None:
            raise BackofficeError("demo billing: no such demo subscriber")
        return account


# -- reading the file --------------------------------------------------------------------------

def _read(path: Path) -> tuple[list[SubscriberAccount], dict[str, list[Bonus]]]:
    try:
        doc = read_yaml(path)  # syntax errors and duplicate keys, with their lines
    except KnowledgeBaseError as exc:
        raise DemoDataError(exc.problems) from exc
    checker = _Checker(doc)
    accounts, bonuses = checker.document()
    if checker.problems:
        raise DemoDataError(checker.problems)
    return accounts, bonuses


class _Checker:
    """Checks the plain data of the file; ``doc`` gives every problem its file and line."""

    def __init__(self, doc: YamlDocument) -> None:
        self._doc = doc
        self.problems: list[str] = []

    def _problem(self, loc: Loc, message: str) -> None:
        self.problems.append(self._doc.problem(loc, message))

    def document(self) -> tuple[list[SubscriberAccount], dict[str, list[Bonus]]]:
        if self._doc.data is None:
            self._problem((), "the file is empty; expected 'subscribers:'")
            return [], {}
        fields = self._record((), ("subscribers",), (), {})
        if fields is None or "subscribers" not in fields:
            return [], {}
        items = fields["subscribers"]
        if not isinstance(items, list) or not items:
            self._problem(("subscribers",), "expected a non-empty list of subscribers")
            return [], {}
        accounts: list[SubscriberAccount] = []
        bonuses: dict[str, list[Bonus]] = {}
        seen: dict[str, int] = {}
        for index in range(len(items)):
            loc: Loc = ("subscribers", index)
            account, granted = self._subscriber(loc)
            msisdn = self._doc.get((*loc, "msisdn"))
            if isinstance(msisdn, str) and _is_msisdn(msisdn):
                first = seen.get(msisdn)
                if first is not None:
                    self._problem((*loc, "msisdn"), f"duplicate msisdn, already on line {first}")
                    continue
                seen[msisdn] = self._doc.line((*loc, "msisdn"))
            if account is not None:
                accounts.append(account)
                if granted:
                    bonuses[account.msisdn] = granted
        return accounts, bonuses

    def _subscriber(self, loc: Loc) -> tuple[SubscriberAccount | None, list[Bonus]]:
        """(the account when all of the entry is valid, else None; its bonuses)."""
        before = len(self.problems)
        values = self._record(loc, tuple(_SUBSCRIBER_CHECKS), ("bonuses",), _SUBSCRIBER_CHECKS)
        if values is None:
            return None, []
        granted = self._bonuses((*loc, "bonuses")) if "bonuses" in values else []
        amount = _decimal(values.get("balance"))
        if len(self.problems) > before or amount is None:
            return None, []
        account = SubscriberAccount(
            msisdn=values["msisdn"], balance=Money(amount, values["currency"]),
            tariff=values["tariff"], roaming_enabled=values["roaming"], status=values["status"])
        return account, granted

    def _bonuses(self, loc: Loc) -> list[Bonus]:
        items = self._doc.get(loc)
        if not isinstance(items, list):
            self._problem(loc, "expected a list of bonuses")
            return []
        granted: list[Bonus] = []
        keys: dict[str, int] = {}
        for index in range(len(items)):
            at: Loc = (*loc, index)
            before = len(self.problems)
            values = self._record(at, _BONUS_FIELDS, ("granted_at",), _BONUS_CHECKS)
            if values is None:
                continue
            key: Any = values.get("idempotency_key")
            if isinstance(key, str):
                first = keys.get(key)
                if first is not None:
                    self._problem((*at, "idempotency_key"),
                                  f"duplicate idempotency_key, already on line {first}")
                else:
                    keys[key] = self._doc.line((*at, "idempotency_key"))
            if len(self.problems) > before:
                continue
            kind, amount, reason = values["kind"], values["amount"], values["reason"]
            try:
                check_bonus_request(kind, amount, reason, key)  # also lengths, control chars
            except ValueError as exc:
                self._problem(at, str(exc))
                continue
            granted.append(Bonus(kind=kind, amount=amount, reason=reason, idempotency_key=key,
                                 used=values["used"], granted_at=_moment(values.get("granted_at"))))
        return granted

    def _record(
        self, loc: Loc, required: tuple[str, ...], optional: tuple[str, ...],
        checks: Mapping[str, _Check],
    ) -> dict[str, Any] | None:
        """The known fields of the mapping at ``loc`` (None when it is not a mapping); reports
        unknown and missing fields and every value that fails its check."""
        mapping = self._doc.get(loc)
        if not isinstance(mapping, dict):
            self._problem(loc, f"expected a mapping with {', '.join(required)}")
            return None
        known = (*required, *optional)
        for key in mapping:
            if key not in known:
                self._problem((*loc, key), f"unknown field (known: {', '.join(known)})")
        for name in required:
            if name not in mapping:
                self._problem(loc, f"missing required field {name!r}")
        for name, (valid, message) in checks.items():
            if name not in mapping:
                continue
            if isinstance(mapping[name], list | dict):
                self._problem((*loc, name), "expected a single value, not a list or mapping")
            elif not valid(mapping[name]):
                self._problem((*loc, name), message)
        return {name: value for name, value in mapping.items() if name in known}


def _is_msisdn(value: str) -> bool:
    try:
        check_msisdn(value)
    except ValueError:
        return False
    return True


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, str) and _AMOUNT.fullmatch(value.strip()):
        return Decimal(value.strip())
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        amount = Decimal(str(value))
        return amount if amount.is_finite() else None
    return None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


# What each field must be, and the problem when it is not (a missing field is reported apart).
_Check = tuple[Callable[[Any], bool], str]

_SUBSCRIBER_CHECKS: dict[str, _Check] = {
    "msisdn": (lambda v: isinstance(v, str) and _is_msisdn(v),
               "must be a quoted string of 7-15 digits, E.164 without '+' (e.g. \"375291112233\")"),
    "balance": (lambda v: _decimal(v) is not None, "must be a decimal amount such as \"12.34\""),
    "currency": (lambda v: isinstance(v, str) and _CURRENCY.fullmatch(v) is not None,
                 "must be an ISO 4217 code of three capital letters, such as BYN"),
    "tariff": (lambda v: v is None or _non_empty(v),
               "must be a non-empty string, or null when unknown"),
    "roaming": (lambda v: isinstance(v, bool), "must be true or false"),
    "status": (_non_empty, "must be a non-empty string such as active or blocked"),
}
_BONUS_FIELDS = ("kind", "amount", "reason", "idempotency_key", "used")
_BONUS_CHECKS: dict[str, _Check] = {
    "kind": (lambda v: isinstance(v, str) and _KIND.fullmatch(v) is not None,
             "must be a lower-case identifier such as traffic_mb"),
    "amount": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
               "must be a positive integer"),
    "reason": (_non_empty, "must be a non-empty string"),
    "idempotency_key": (_non_empty, "must be a non-empty string"),
    "used": (lambda v: isinstance(v, bool), "must be true or false"),
    "granted_at": (lambda v: v is None or _moment(v) is not None,
                   "must be a date-time such as 2024-05-01T10:00:00+03:00"),
}
