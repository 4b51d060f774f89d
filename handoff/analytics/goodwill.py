"""The goodwill figures of a period (``goodwill`` in ``GET /api/desk/analytics``): the decisions
taken in the period (by ``decided_at``), granted (count and MB), pending, refused per rule, used
(the billing's flag, refreshed daily) and the cost of the granted bonuses."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.analytics.schemas import GoodwillOut, GoodwillRefusal
from handoff.goodwill.rules import ALL_RULES
from handoff.tables import GoodwillDecision, GoodwillOutcome, Handoff


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def goodwill_figures(session: AsyncSession, since: datetime, until: datetime,
                           channel: str | None) -> GoodwillOut:
    query = select(GoodwillDecision.outcome, GoodwillDecision.rule, GoodwillDecision.amount,
                   GoodwillDecision.cost, GoodwillDecision.currency, GoodwillDecision.used) \
        .where(GoodwillDecision.decided_at >= since, GoodwillDecision.decided_at < until)
    if channel is not None:
        query = query.join(Handoff, Handoff.id == GoodwillDecision.handoff_id) \
            .where(Handoff.channel == channel)
    rows = (await session.execute(query)).all()
    granted = [r for r in rows if r.outcome == GoodwillOutcome.GRANTED]
    refused = Counter(r.rule or "unknown" for r in rows if r.outcome == GoodwillOutcome.REFUSED)
    cost = Decimal(0)
    for row in granted:
        try:
            cost += Decimal(row.cost or "0")
        except InvalidOperation:  # written by us from the policy: cannot happen; not a 500
            continue
    used = sum(1 for r in granted if r.used)
    rules = [*ALL_RULES, *sorted(set(refused) - {str(r) for r in ALL_RULES})]
    return GoodwillOut(
        decisions=len(rows),
        granted=len(granted),
        granted_mb=sum(r.amount or 0 for r in granted),
        pending=sum(1 for r in rows if r.outcome == GoodwillOutcome.PENDING),
        refused=sum(refused.values()),
        refused_by_rule=[GoodwillRefusal(rule=str(rule), count=refused.get(str(rule), 0))
                         for rule in rules],
        used=used,
        used_share=_share(used, len(granted)),
        cost=f"{cost:.2f}",
        currency=next((r.currency for r in granted if r.currency), None),
    )
