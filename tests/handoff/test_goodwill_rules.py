"""The goodwill rules as a pure function (handoff/goodwill/rules.py): each rule refuses what it
is for, a switched-off rule never refuses, the first failing rule in the documented order
wins; and the policy file's validation (handoff/goodwill/policy.py) names file and line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handoff.goodwill.policy import GOODWILL_FILE, GoodwillConfigError, Rules, load_policy
from handoff.goodwill.rules import ORDER, Facts, Related, Rule, decide

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(minutes=5)
RULES = Rules(verified_only=True, refuse_when_left=True, once_per_customer_days=30,
              own_handoffs_in_queue=1, reopened_within_minutes=10, daily_budget=5)
CLEAN = Facts(created_at=CREATED, decided_at=NOW, verified=True)


def switched_off(rules: Rules, name: str) -> Rules:
    value: Any = False if name in (Rule.VERIFIED_ONLY, Rule.REFUSE_WHEN_LEFT) else None
    return replace(rules, **{name: value})


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_a_clean_long_wait_is_granted() -> None:
    assert decide(RULES, CLEAN) is None


@pytest.mark.parametrize(("facts", "rule"), [
    (replace(CLEAN, verified=False), Rule.VERIFIED_ONLY),
    (replace(CLEAN, left=True), Rule.REFUSE_WHEN_LEFT),
    (replace(CLEAN, last_grant_at=NOW - timedelta(days=29)), Rule.ONCE_PER_CUSTOMER),
    # another of their handoffs waited during this wait (a second tab), still waiting or
    # claimed after this one was opened
    (replace(CLEAN, related=(Related(ago(6)),)), Rule.OWN_HANDOFFS_IN_QUEUE),
    (replace(CLEAN, related=(Related(ago(7), claimed_at=ago(2)),)), Rule.OWN_HANDOFFS_IN_QUEUE),
    # a previous one ended 8 minutes before this one was opened
    (replace(CLEAN, related=(Related(ago(30), ended_at=ago(13)),)), Rule.REOPENED_WITHIN),
    (replace(CLEAN, grants_today=5), Rule.DAILY_BUDGET),
])
def test_each_rule_refuses_what_it_is_for(facts: Facts, rule: Rule) -> None:
    assert decide(RULES, facts) == rule


@pytest.mark.parametrize("facts", [
    replace(CLEAN, last_grant_at=NOW - timedelta(days=31)),  # outside the 30 days
    # a previous handoff, answered, that ended 15 minutes before this one was opened
    replace(CLEAN, related=(Related(ago(60), claimed_at=ago(50), ended_at=ago(20)),)),
    # one opened after this one was claimed (the decision's moment) does not count
    replace(CLEAN, related=(Related(NOW + timedelta(seconds=1)),)),
])
def test_what_the_rules_let_through(facts: Facts) -> None:
    assert decide(RULES, facts) is None


def test_a_handoff_opened_later_that_still_waits_counts_as_an_own_one_in_the_queue() -> None:
    assert decide(RULES, replace(CLEAN, related=(Related(ago(3)),))) == \
        Rule.OWN_HANDOFFS_IN_QUEUE


@pytest.mark.parametrize(("field", "facts"), [
    ("verified_only", replace(CLEAN, verified=False)),
    ("refuse_when_left", replace(CLEAN, left=True)),
    ("once_per_customer_days", replace(CLEAN, last_grant_at=ago(60))),
    ("own_handoffs_in_queue", replace(CLEAN, related=(Related(ago(3)),))),
    ("reopened_within_minutes", replace(CLEAN, related=(Related(ago(30), ended_at=ago(13)),))),
    ("daily_budget", replace(CLEAN, grants_today=99)),
])
def test_a_switched_off_rule_never_refuses(field: str, facts: Facts) -> None:
    off = switched_off(RULES, field)
    assert decide(RULES, facts) == Rule(field)
    assert decide(off, facts) is None


def test_the_first_failing_rule_in_the_documented_order_wins() -> None:
    everything = Facts(created_at=CREATED, decided_at=NOW, verified=False, left=True,
                       last_grant_at=ago(60), related=(Related(ago(30), ended_at=ago(13)),
                                                       Related(ago(6))), grants_today=99)
    refused = []
    rules = RULES
    for expected in ORDER:
        rule = decide(rules, everything)
        refused.append(rule)
        assert rule == expected
        rules = switched_off(rules, str(rule))
    assert decide(rules, everything) is None
    assert refused == list(ORDER)


def test_the_shipped_policy_loads() -> None:
    policy = load_policy()
    assert (policy.bonus.kind, policy.bonus.amount, policy.bonus.currency) == (
        "traffic_mb", 100, "BYN")
    assert policy.rules.once_per_customer_days == 30
    assert policy.rules.reopened_within_minutes == 10
    assert policy.rules.own_handoffs_in_queue == 1


def broken(tmp_path: Path, old: str, new: str) -> GoodwillConfigError:
    text = GOODWILL_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "goodwill.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(GoodwillConfigError) as caught:
        load_policy(path)
    return caught.value


def line_of(text: str, tmp_path: Path) -> int:
    lines = (tmp_path / "goodwill.yml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize(("old", "new", "marker", "says"), [
    ("    days: 30", "    days: thirty", "days: thirty", "whole number"),
    ("  amount: 100 ", "  amount: -1 ", "amount: -1", "whole number"),
    ('  cost: "0.30"', "  cost: 0.3", "cost: 0.3", "decimal in quotes"),
    ("  currency: BYN", "  currency: rubles", "currency: rubles", "ISO 4217"),
    ("  daily_budget:", "  daily_budgett:", "daily_budgett", "unknown rule"),
    ("    minutes: 10", "    minutes: 10\n    hours: 1", "hours: 1", "expected enabled"),
])
def test_a_broken_policy_names_the_file_and_line(
    tmp_path: Path, old: str, new: str, marker: str, says: str,
) -> None:
    error = broken(tmp_path, old, new)
    line = line_of(marker, tmp_path)
    assert any(p.startswith(f"{tmp_path / 'goodwill.yml'}:") or "goodwill.yml:" in p
               for p in error.problems)
    assert any(f"goodwill.yml:{line}:" in p and says in p for p in error.problems) or (
        says == "expected enabled" and any("expected enabled" in p for p in error.problems)
    ), error.problems


def test_a_missing_rule_and_a_yaml_syntax_error_are_reported(tmp_path: Path) -> None:
    error = broken(tmp_path, "  verified_only:\n    enabled: true\n", "")
    assert any("missing rule verified_only" in p for p in error.problems)
    error = broken(tmp_path, "bonus:", "bonus: [")
    assert any("YAML syntax error" in p and "goodwill.yml:" in p for p in error.problems)
