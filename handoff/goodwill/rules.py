"""The goodwill decision as a pure function of gathered facts, so every anti-abuse rule can be
tested on its own (``handoff/goodwill/service.py`` gathers the facts in the claim's
transaction).

The rules are checked in this fixed order and the first that refuses wins:

1. ``verified_only``: the subscriber's identity is not verified;
2. ``refuse_when_left``: nobody answered because the subscriber cancelled or left;
3. ``once_per_customer_days``: the customer got a bonus (or one is being granted) in the
   last N days;
4. ``own_handoffs_in_queue``: while this handoff waited, the same customer or client address
   had at least N other handoffs waiting;
5. ``reopened_within_minutes``: the handoff was opened within N minutes after a previous one of
   the same customer or address ended (or while it was still open);
6. ``daily_budget``: today's grants (DESK_TIMEZONE) reached the budget (last, so refusals
   never use it up).

``billing_failed`` is not a policy rule: a grant the billing never confirmed (see service.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from handoff.goodwill.policy import Rules
from handoff.timeutil import aware


class Rule(StrEnum):
    VERIFIED_ONLY = "verified_only"
    REFUSE_WHEN_LEFT = "refuse_when_left"
    ONCE_PER_CUSTOMER = "once_per_customer_days"
    OWN_HANDOFFS_IN_QUEUE = "own_handoffs_in_queue"
    REOPENED_WITHIN = "reopened_within_minutes"
    DAILY_BUDGET = "daily_budget"
    BILLING_FAILED = "billing_failed"


ORDER = (Rule.VERIFIED_ONLY, Rule.REFUSE_WHEN_LEFT, Rule.ONCE_PER_CUSTOMER,
         Rule.OWN_HANDOFFS_IN_QUEUE, Rule.REOPENED_WITHIN, Rule.DAILY_BUDGET)
ALL_RULES = (*ORDER, Rule.BILLING_FAILED)


@dataclass(frozen=True, slots=True)
class Related:
    """Another handoff of the same customer or the same client address."""

    created_at: datetime
    claimed_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def stopped_waiting(self) -> datetime | None:
        """When it left the queue: claimed, or ended unanswered; None while it waits."""
        return self.claimed_at or self.ended_at


@dataclass(frozen=True, slots=True)
class Facts:
    created_at: datetime  # this handoff's escalation
    decided_at: datetime  # the claim (or the end, when it was never answered)
    verified: bool
    left: bool = False
    last_grant_at: datetime | None = None  # the customer's latest pending or granted bonus
    related: tuple[Related, ...] = field(default_factory=tuple)
    grants_today: int = 0  # pending or granted since local midnight


def decide(rules: Rules, facts: Facts) -> Rule | None:
    """The first rule (in :data:`ORDER`) that refuses, or None: grant."""
    created, now = aware(facts.created_at), aware(facts.decided_at)
    if rules.verified_only and not facts.verified:
        return Rule.VERIFIED_ONLY
    if rules.refuse_when_left and facts.left:
        return Rule.REFUSE_WHEN_LEFT
    days = rules.once_per_customer_days
    if days is not None and facts.last_grant_at is not None \
            and aware(facts.last_grant_at) > now - timedelta(days=days):
        return Rule.ONCE_PER_CUSTOMER
    if rules.own_handoffs_in_queue is not None \
            and _waiting_alongside(facts.related, created, now) >= rules.own_handoffs_in_queue:
        return Rule.OWN_HANDOFFS_IN_QUEUE
    minutes = rules.reopened_within_minutes
    if minutes is not None and _reopened(facts.related, created, timedelta(minutes=minutes)):
        return Rule.REOPENED_WITHIN
    if rules.daily_budget is not None and facts.grants_today >= rules.daily_budget:
        return Rule.DAILY_BUDGET
    return None


def _waiting_alongside(related: tuple[Related, ...], created: datetime, now: datetime) -> int:
    """How many of ``related`` waited at some moment of [created, now)."""
    count = 0
    for other in related:
        stopped = other.stopped_waiting
        if aware(other.created_at) < now and (stopped is None or aware(stopped) > created):
            count += 1
    return count


def _reopened(related: tuple[Related, ...], created: datetime, window: timedelta) -> bool:
    """A handoff opened before this one that was still open, or ended less than ``window``
    before this one was opened."""
    for other in related:
        if aware(other.created_at) >= created:
            continue
        if other.ended_at is None or aware(other.ended_at) > created - window:
            return True
    return False
