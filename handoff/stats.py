"""Service-level figures for today and the last 7 days (calendar days in the desk's time zone).

* ``handoffs``: escalations created in the period;
* ``answered`` / ``answered_within_target``: got a first agent reply (within 3 minutes);
* ``share_answered_within_target``: answered within target / handoffs whose outcome against
  the target is known: answered, or unanswered for at least the target (still waiting, or
  cancelled/left after it). A subscriber who cancels after 20 seconds is not counted against
  the desk, one who is still waiting after 3 minutes is;
* ``median_wait_seconds`` / ``p90_wait_seconds``: escalation to the first agent reply, over
  the answered handoffs;
* ``abandoned``: cancelled by the subscriber, or ended (closed / returned) with no agent reply;
* ``csat_average`` / ``csat_count``: the subscribers' 1-5 ratings after close.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from bot.messages import utcnow
from bot.storage import Database
from handoff.queue import agents_online
from handoff.schemas import PeriodStats, StatsOut
from handoff.tables import Handoff, HandoffStatus
from handoff.timeutil import aware, seconds_between

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    created_at: datetime
    status: str
    wait_seconds: float | None
    ended_at: datetime | None
    rating: int | None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(float(value), 1)


def period_stats(
    facts: Sequence[HandoffFacts], *, since: datetime, now: datetime, target: float
) -> PeriodStats:
    rows = [f for f in facts if aware(f.created_at) >= since]
    waits = [f.wait_seconds for f in rows if f.wait_seconds is not None]
    within = sum(1 for w in waits if w <= target)
    known = len(waits) + sum(
        1 for f in rows
        if f.wait_seconds is None and seconds_between(f.created_at, f.ended_at or now) >= target
    )
    abandoned = sum(
        1 for f in rows
        if f.status == HandoffStatus.CANCELLED
        or (f.status in HandoffStatus.ENDED and f.wait_seconds is None)
    )
    ratings = [f.rating for f in rows if f.rating is not None]
    return PeriodStats(
        since=since,
        handoffs=len(rows),
        answered=len(waits),
        answered_within_target=within,
        share_answered_within_target=round(within / known, 4) if known else None,
        median_wait_seconds=percentile(waits, 50),
        p90_wait_seconds=percentile(waits, 90),
        abandoned=abandoned,
        csat_average=round(sum(ratings) / len(ratings), 2) if ratings else None,
        csat_count=len(ratings),
    )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r (DESK_TIMEZONE); using UTC", name)
        return ZoneInfo("UTC")


class Stats:
    def __init__(self, db: Database, *, target_seconds: int, timezone: str) -> None:
        self._db = db
        self._target = target_seconds
        self._zone = zone(timezone)

    def day_start(self, now: datetime, days_back: int = 0) -> datetime:
        local = aware(now).astimezone(self._zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=days_back)

    async def compute(self, now: datetime | None = None) -> StatsOut:
        now = now or utcnow()
        today, week = self.day_start(now), self.day_start(now, 6)
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(Handoff.created_at, Handoff.status, Handoff.wait_seconds,
                           Handoff.ended_at, Handoff.rating)
                    .where(Handoff.created_at >= week.astimezone(UTC))
                )
            ).all()
            open_now = (
                await session.execute(
                    select(Handoff.status, func.count())
                    .where(Handoff.status.in_(HandoffStatus.OPEN))
                    .group_by(Handoff.status)
                )
            ).all()
            online = await agents_online(session, now)
        counts = {status: int(count) for status, count in open_now}
        facts = [HandoffFacts(*row) for row in rows]
        return StatsOut(
            target_seconds=self._target,
            timezone=str(self._zone.key),
            today=period_stats(facts, since=today, now=now, target=self._target),
            last_7_days=period_stats(facts, since=week, now=now, target=self._target),
            waiting_now=counts.get(HandoffStatus.WAITING, 0),
            active_now=counts.get(HandoffStatus.ACTIVE, 0),
            agents_online=online,
        )
