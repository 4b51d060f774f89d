"""The goodwill policy, ``handoff/data/goodwill.yml``: the bonus and the anti-abuse rules.

Read and validated once, when :class:`~handoff.goodwill.Goodwill` is built (start-up), so a
broken file stops the app; every problem is reported as ``FILE:LINE: FIELD: MESSAGE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import Loc, YamlDocument, read_yaml

GOODWILL_FILE = Path(__file__).resolve().parent.parent / "data" / "goodwill.yml"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COST = re.compile(r"[0-9]{1,9}(\.[0-9]{1,4})?")


class GoodwillConfigError(ValueError):
    """``goodwill.yml`` is invalid; ``problems`` lists each as "FILE:LINE: FIELD: MESSAGE"."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems) or ["the goodwill policy is invalid"]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class Bonus:
    kind: str
    amount: int
    cost: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Rules:
    """Each rule's parameter; ``None`` when the rule is switched off."""

    verified_only: bool = True
    refuse_when_left: bool = True
    once_per_customer_days: int | None = 30
    own_handoffs_in_queue: int | None = 1  # at least this many other handoffs waiting
    reopened_within_minutes: int | None = 10
    daily_budget: int | None = 200  # grants per local day


@dataclass(frozen=True, slots=True)
class Policy:
    bonus: Bonus
    rules: Rules
    max_attempts: int = 30


# rule name -> its parameter's field (None: an on/off rule only) and the parameter's range
_RULES: dict[str, tuple[str | None, int, int]] = {
    "verified_only": (None, 0, 0),
    "refuse_when_left": (None, 0, 0),
    "once_per_customer_days": ("days", 1, 3660),
    "own_handoffs_in_queue": ("at_least", 1, 1000),
    "reopened_within_minutes": ("minutes", 1, 7 * 24 * 60),
    "daily_budget": ("grants_per_day", 0, 10**6),
}


def load_policy(path: Path = GOODWILL_FILE) -> Policy:
    """Read and validate the policy; :class:`GoodwillConfigError` lists every problem."""
    try:
        doc = read_yaml(path)
    except KnowledgeBaseError as exc:  # syntax errors, duplicate keys: already FILE:LINE
        raise GoodwillConfigError(exc.problems) from exc
    data = doc.data
    if not isinstance(data, dict):
        raise GoodwillConfigError([doc.problem((), "must be a mapping with bonus, rules "
                                                   "and grant")])
    problems: list[str] = []
    for key in data:
        if key not in ("bonus", "rules", "grant"):
            problems.append(doc.problem((key,), "unknown field (expected bonus, rules, grant)"))
    bonus = _bonus(doc, data.get("bonus"), problems)
    rules = _rules(doc, data.get("rules"), problems)
    max_attempts = 30
    grant = data.get("grant")
    if grant is not None:
        if not isinstance(grant, dict) or set(grant) - {"max_attempts"}:
            problems.append(doc.problem(("grant",), "expected only max_attempts"))
        else:
            max_attempts = _int(doc, ("grant", "max_attempts"), grant.get("max_attempts", 30),
                                1, 1000, problems)
    if problems or bonus is None:
        raise GoodwillConfigError(problems)
    return Policy(bonus, rules, max_attempts)


def _bonus(doc: YamlDocument, raw: object, problems: list[str]) -> Bonus | None:
    if not isinstance(raw, dict):
        problems.append(doc.problem(("bonus",), "must give kind, amount, cost and currency"))
        return None
    before = len(problems)
    for key in raw:
        if key not in ("kind", "amount", "cost", "currency"):
            problems.append(doc.problem(("bonus", key), "unknown field (expected kind, amount, "
                                                        "cost, currency)"))
    kind, currency, cost = raw.get("kind"), raw.get("currency"), raw.get("cost")
    if not isinstance(kind, str) or _KIND.fullmatch(kind) is None:
        problems.append(doc.problem(("bonus", "kind"), "a billing bonus kind such as "
                                                       "traffic_mb (a-z, 0-9, _)"))
    amount = _int(doc, ("bonus", "amount"), raw.get("amount"), 1, 10**6, problems)
    if not isinstance(cost, str) or _COST.fullmatch(cost) is None:
        problems.append(doc.problem(("bonus", "cost"), 'a decimal in quotes, such as "0.30"'))
    if not isinstance(currency, str) or _CURRENCY.fullmatch(currency) is None:
        problems.append(doc.problem(("bonus", "currency"), "an ISO 4217 code such as BYN"))
    if len(problems) > before:
        return None
    try:
        value = Decimal(str(cost))
    except InvalidOperation:  # pragma: no cover - the pattern above already refused it
        problems.append(doc.problem(("bonus", "cost"), "not a decimal"))
        return None
    return Bonus(str(kind), amount, value, str(currency))


def _rules(doc: YamlDocument, raw: object, problems: list[str]) -> Rules:
    if not isinstance(raw, dict):
        problems.append(doc.problem(("rules",), "must map each rule to its settings: "
                                                + ", ".join(_RULES)))
        return Rules()
    values: dict[str, Any] = {}
    for name in raw:
        if name not in _RULES:
            problems.append(doc.problem(("rules", name), "unknown rule; the rules are "
                                                         + ", ".join(_RULES)))
    for name, (param, low, high) in _RULES.items():
        loc: Loc = ("rules", name)
        rule = raw.get(name)
        if rule is None:
            problems.append(doc.problem(("rules",), f"missing rule {name} (give it with "
                                                    "enabled: false to switch it off)"))
            continue
        allowed = {"enabled"} | ({param} if param else set())
        if not isinstance(rule, dict) or not set(rule) <= allowed or "enabled" not in rule:
            problems.append(doc.problem(loc, "expected " + " and ".join(sorted(allowed))))
            continue
        enabled = rule["enabled"]
        if not isinstance(enabled, bool):
            problems.append(doc.problem((*loc, "enabled"), "true or false"))
            continue
        if param is None:
            values[name] = enabled
            continue
        number = _int(doc, (*loc, param), rule.get(param), low, high, problems)
        values[name] = number if enabled else None
    return Rules(**values)


def _int(doc: YamlDocument, loc: Loc, value: object, low: int, high: int,
         problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(doc.problem(loc, f"a whole number from {low} to {high}"))
        return low
    return value
