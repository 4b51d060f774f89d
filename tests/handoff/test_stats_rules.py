"""Service-level arithmetic on hand-made handoffs (the API tests check it end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff.stats import HandoffFacts, Stats, period_stats

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def facts(minutes_ago: float, status: str, wait: float | None = None,
          ended_after: float | None = None, rating: int | None = None) -> HandoffFacts:
    created = NOW - timedelta(minutes=minutes_ago)
    ended = created + timedelta(seconds=ended_after) if ended_after is not None else None
    return HandoffFacts(created, status, wait, ended, rating)


def test_period_figures() -> None:
    rows = [
        facts(60, "closed", wait=30, ended_after=600, rating=5),
        facts(50, "closed", wait=170, ended_after=600, rating=3),
        facts(40, "closed", wait=400, ended_after=900),
        facts(30, "cancelled", ended_after=20),  # cancelled quickly: not against the target
        facts(20, "cancelled", ended_after=500),  # gave up after 8 min: against the target
        facts(10, "waiting"),  # waiting 10 min: against the target
        facts(1, "waiting"),  # waiting 1 min: outcome unknown yet
        facts(3 * 24 * 60, "closed", wait=10, rating=1),  # three days ago
    ]
    today = period_stats(rows, since=NOW - timedelta(hours=12), now=NOW, target=180)
    assert today.handoffs == 7
    assert today.answered == 3
    assert today.answered_within_target == 2
    assert today.share_answered_within_target == round(2 / 5, 4)
    assert today.median_wait_seconds == 170
    assert today.p90_wait_seconds == 354.0
    assert today.abandoned == 2
    assert today.csat_average == 4.0 and today.csat_count == 2
    week = period_stats(rows, since=NOW - timedelta(days=7), now=NOW, target=180)
    assert week.handoffs == 8 and week.csat_count == 3


def test_an_empty_period_has_no_share() -> None:
    empty = period_stats([], since=NOW, now=NOW, target=180)
    assert empty.handoffs == 0
    assert empty.share_answered_within_target is None
    assert empty.median_wait_seconds is None and empty.csat_average is None


def test_today_starts_at_local_midnight() -> None:
    stats = Stats(db=None, target_seconds=180, timezone="Europe/Minsk")  # type: ignore[arg-type]
    start = stats.day_start(datetime(2026, 3, 10, 22, 30, tzinfo=UTC))  # 01:30 in Minsk
    assert start == datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    assert stats.day_start(NOW, 6) == datetime(2026, 3, 3, 21, 0, tzinfo=UTC)
    unknown = Stats(db=None, target_seconds=180, timezone="Nowhere/City")  # type: ignore[arg-type]
    assert unknown.day_start(NOW) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
