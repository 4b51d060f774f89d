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
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from backoffice.billing_http import check_bonus_request, check_msisdn
from bot.backoffice_contract import BackofficeError, Bonus, Money, SubscriberAccount

__all__ = ["DEFAULT_DEMO_DATA", "DemoBilling", "DemoDataError"]

log = logging.getLogger(__name__)

DEFAULT_DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo_subscribers.yml"

_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SUBSCRIBER_FIELDS = ("msisdn", "balance", "currency", "tariff", "roaming", "status")
_OPTIONAL_SUBSCRIBER_FIELDS = ("bonuses",)
_BONUS_FIELDS = ("kind", "amount", "reason", "idempotency_key", "used")
_OPTIONAL_BONUS_FIELDS = ("granted_at",)


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
                 _display(path))
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

def _display(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(absolute)


def _read(path: Path) -> tuple[list[SubscriberAccount], dict[str, list[Bonus]]]:
    name = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DemoDataError([f"{name}:1: cannot read the file: {exc}"]) from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        reader = _Reader(loader, name)
        accounts, bonuses = reader.document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            started = exc.context_mark.line + 1 if exc.context_mark is not None else line
            message += f" ({exc.context}, which starts on line {started})"
        raise DemoDataError([f"{name}:{line}: YAML syntax error: {message}"]) from None
    except yaml.YAMLError as exc:
        raise DemoDataError([f"{name}:1: YAML error: {exc}"]) from None
    finally:
        loader.dispose()
    if reader.problems:
        raise DemoDataError(reader.problems)
    return accounts, bonuses


@dataclass(frozen=True)
class _Entry:
    key: ScalarNode
    value: Node

    @property
    def line(self) -> int:
        return self.key.start_mark.line + 1


class _Reader:
    """Walks the composed node tree, so every problem has the line of the node it is about."""

    def __init__(self, loader: yaml.SafeLoader, name: str) -> None:
        self._loader = loader
        self._name = name
        self.problems: list[str] = []

    def _problem(self, node: Node | int, where: str, message: str) -> None:
        line = node if isinstance(node, int) else node.start_mark.line + 1
        self.problems.append(f"{self._name}:{line}: {where}: {message}")

    def document(
        self, root: Node | None
    ) -> tuple[list[SubscriberAccount], dict[str, list[Bonus]]]:
        if root is None:
            self._problem(1, "(document)", "the file is empty; expected 'subscribers:'")
            return [], {}
        fields = self._mapping(root, "(document)", required=("subscribers",), optional=())
        if fields is None or "subscribers" not in fields:
            return [], {}
        items = fields["subscribers"].value
        if not isinstance(items, SequenceNode) or not items.value:
            self._problem(items, "subscribers", "expected a non-empty list of subscribers")
            return [], {}
        accounts: list[SubscriberAccount] = []
        bonuses: dict[str, list[Bonus]] = {}
        seen: dict[str, int] = {}
        for index, item in enumerate(items.value):
            where = f"subscribers[{index}]"
            msisdn_node, account, granted = self._subscriber(item, where)
            if msisdn_node is not None:
                msisdn = str(msisdn_node.value)
                first = seen.get(msisdn)
                if first is not None:
                    self._problem(msisdn_node, f"{where}.msisdn",
                                  f"duplicate msisdn, already on line {first}")
                    continue
                seen[msisdn] = msisdn_node.start_mark.line + 1
            if account is not None:
                accounts.append(account)
                if granted:
                    bonuses[account.msisdn] = granted
        return accounts, bonuses

    def _subscriber(
        self, node: Node, where: str
    ) -> tuple[Node | None, SubscriberAccount | None, list[Bonus]]:
        """(the msisdn's node when the msisdn is valid, the account when all is, bonuses)."""
        fields = self._mapping(node, where, required=_SUBSCRIBER_FIELDS,
                               optional=_OPTIONAL_SUBSCRIBER_FIELDS)
        if fields is None:
            return None, None, []
        problems_before = len(self.problems)
        values = {name: self._scalar(entry.value, f"{where}.{name}")
                  for name, entry in fields.items() if name != "bonuses"}

        def node_of(name: str) -> Node:
            return fields[name].value

        msisdn = values.get("msisdn")
        msisdn_node: Node | None = None
        if isinstance(msisdn, str) and _is_msisdn(msisdn):
            msisdn_node = node_of("msisdn")
        elif "msisdn" in values:
            self._problem(node_of("msisdn"), f"{where}.msisdn",
                          "must be a quoted string of 7-15 digits, E.164 without '+' "
                          "(e.g. \"375291112233\")")
        amount = _decimal(values.get("balance"))
        if "balance" in values and amount is None:
            self._problem(node_of("balance"), f"{where}.balance",
                          "must be a decimal amount such as \"12.34\"")
        currency = values.get("currency")
        if "currency" in values and not (isinstance(currency, str)
                                         and _CURRENCY.fullmatch(currency)):
            self._problem(node_of("currency"), f"{where}.currency",
                          "must be an ISO 4217 code of three capital letters, such as BYN")
        tariff = values.get("tariff")
        if tariff is not None and not _non_empty(tariff):
            self._problem(node_of("tariff"), f"{where}.tariff",
                          "must be a non-empty string, or null when unknown")
        roaming = values.get("roaming")
        if "roaming" in values and not isinstance(roaming, bool):
            self._problem(node_of("roaming"), f"{where}.roaming", "must be true or false")
        status = values.get("status")
        if "status" in values and not _non_empty(status):
            self._problem(node_of("status"), f"{where}.status",
                          "must be a non-empty string such as active or blocked")
        granted: list[Bonus] = []
        if "bonuses" in fields:
            granted = self._bonuses(fields["bonuses"].value, f"{where}.bonuses")
        if len(self.problems) > problems_before or len(values) < len(_SUBSCRIBER_FIELDS):
            return msisdn_node, None, []
        assert isinstance(msisdn, str) and amount is not None and isinstance(currency, str)
        assert isinstance(roaming, bool) and isinstance(status, str)
        account = SubscriberAccount(msisdn=msisdn, balance=Money(amount, currency),
                                    tariff=tariff, roaming_enabled=roaming, status=status)
        return msisdn_node, account, granted

    def _bonuses(self, node: Node, where: str) -> list[Bonus]:
        if not isinstance(node, SequenceNode):
            self._problem(node, where, "expected a list of bonuses")
            return []
        granted: list[Bonus] = []
        keys: dict[str, int] = {}
        for index, item in enumerate(node.value):
            at = f"{where}[{index}]"
            fields = self._mapping(item, at, required=_BONUS_FIELDS,
                                   optional=_OPTIONAL_BONUS_FIELDS)
            if fields is None:
                continue
            problems_before = len(self.problems)
            values = {name: self._scalar(entry.value, f"{at}.{name}")
                      for name, entry in fields.items()}
            kind, amount = values.get("kind"), values.get("amount")
            reason, key = values.get("reason"), values.get("idempotency_key")
            used, granted_at = values.get("used"), values.get("granted_at")
            if "kind" in values and not (isinstance(kind, str) and _KIND.fullmatch(kind)):
                self._problem(fields["kind"].value, f"{at}.kind",
                              "must be a lower-case identifier such as traffic_mb")
            if "amount" in values and (isinstance(amount, bool) or not isinstance(amount, int)
                                       or amount <= 0):
                self._problem(fields["amount"].value, f"{at}.amount",
                              "must be a positive integer")
            for name, value in (("reason", reason), ("idempotency_key", key)):
                if name in values and not _non_empty(value):
                    self._problem(fields[name].value, f"{at}.{name}",
                                  "must be a non-empty string")
            if "used" in values and not isinstance(used, bool):
                self._problem(fields["used"].value, f"{at}.used", "must be true or false")
            moment = _moment(granted_at)
            if granted_at is not None and moment is None:
                self._problem(fields["granted_at"].value, f"{at}.granted_at",
                              "must be a date-time such as 2024-05-01T10:00:00+03:00")
            if isinstance(key, str):
                first = keys.get(key)
                if first is not None:
                    self._problem(fields["idempotency_key"].value, f"{at}.idempotency_key",
                                  f"duplicate idempotency_key, already on line {first}")
                else:
                    keys[key] = fields["idempotency_key"].value.start_mark.line + 1
            if len(self.problems) > problems_before or len(values) < len(_BONUS_FIELDS):
                continue
            assert isinstance(kind, str) and isinstance(amount, int)
            assert isinstance(reason, str) and isinstance(key, str) and isinstance(used, bool)
            try:
                check_bonus_request(kind, amount, reason, key)
            except ValueError as exc:
                self._problem(item, at, str(exc))
                continue
            granted.append(Bonus(kind=kind, amount=amount, reason=reason, idempotency_key=key,
                                 used=used, granted_at=moment))
        return granted

    def _mapping(
        self, node: Node, where: str, *, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, _Entry] | None:
        """The fields of a mapping node; reports duplicate, unknown and missing fields."""
        if not isinstance(node, MappingNode):
            self._problem(node, where, f"expected a mapping with {', '.join(required)}")
            return None
        self._loader.flatten_mapping(node)
        fields: dict[str, _Entry] = {}
        for key_node, value_node in node.value:
            key = self._loader.construct_object(key_node, deep=True)
            entry_where = f"{where}.{key}" if where != "(document)" else str(key)
            if not isinstance(key_node, ScalarNode) or not isinstance(key, str):
                self._problem(key_node, where, f"bad key {key!r}")
                continue
            if key in fields:
                self._problem(key_node, entry_where,
                              f"duplicate key, already on line {fields[key].line}")
                continue
            if key not in required and key not in optional:
                known = ", ".join((*required, *optional))
                self._problem(key_node, entry_where, f"unknown field (known: {known})")
                continue
            fields[key] = _Entry(key_node, value_node)
        for name in required:
            if name not in fields:
                self._problem(node, where, f"missing required field {name!r}")
        return fields

    def _scalar(self, node: Node, where: str) -> Any:
        if not isinstance(node, ScalarNode):
            self._problem(node, where, "expected a single value, not a list or mapping")
            return _NotScalar()
        return self._loader.construct_object(node, deep=True)


class _NotScalar:
    """A list or mapping where a value belongs (already reported; fails every type check)."""


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
