"""Contacts per 30-minute interval for the coming weeks, from the stored history.

The method, exactly (local days and intervals of ``zone``; "today" is the local day of ``now``,
and only arrivals before ``now`` count):

1. **Counts.** Each arrival falls into (local day, half-hour of that day). A count on a special
   day of ``calendar`` is divided by ``1 + uplift``, so a holiday in the history does not drag
   down (or an event push up) the ordinary pattern.
2. **History.** It starts on the local day of the first arrival and ends yesterday (today is
   incomplete). Cut backwards from yesterday into ``K`` complete 7-day blocks: block ``k``
   (``k = 1`` most recent) is the days ``today - 7k .. today - 7k + 6``; older left-over days are
   not used.
3. **Weekly pattern** (``K >= 1``). For every hour-of-week slot (weekday x half-hour, 336 slots)
   the weighted average of that slot's counts over the blocks, block ``k`` weighing
   ``DECAY ** (k - 1)`` (``DECAY = 0.85``: last week counts most, eight weeks ago about a third).
4. **Trend** (``K >= 2``). The blocks' totals are split into the recent half (``k <= K // 2``)
   and the older rest; the weekly growth ``g = (mean recent / mean older) ** (1 / gap)``, ``gap``
   the weeks between the halves' mean ``k``, clamped to ``[0.8, 1.25]`` (1 when a half is empty
   of contacts). A forecast day ``t`` is scaled by ``g ** ((t - c) / 7)``, ``c`` the
   weight-averaged middle of the blocks (in days), the factor clamped to ``[0.5, 2]``. With
   ``K < 2`` there is no trend (``g = 1``).
5. **Short history** (under a week: ``K == 0`` but at least one complete day). Every day is
   forecast with the per half-hour average over the complete days, whatever the weekday.
   No complete day (or no arrivals) gives zeros.
6. **Special days ahead.** A forecast day in ``calendar`` is multiplied by ``1 + uplift`` and its
   points carry the day's name.

Holt-Winters is not used: with the few weeks a desk has, the weighted weekly profile with a
clamped trend is steadier and its every number can be explained.

Daylight saving: a day always has 48 local intervals; each point's ``start`` is the local wall
time made UTC (``zoneinfo``'s rule, fold 0), so on the night the clocks go forward the skipped
hour's two intervals map onto the same UTC instants as the next hour's (with Europe/Minsk, which
keeps one offset all year, this never happens).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff.workforce.calendar import Calendar
from handoff.workforce.model import DAYS_PER_WEEK, INTERVAL_MINUTES, PERIODS_PER_DAY, ForecastPoint

DECAY = 0.85
WEEKLY_GROWTH_LIMITS = (0.8, 1.25)
TREND_FACTOR_LIMITS = (0.5, 2.0)
MAX_WEEKS = 53

Profile = list[list[float]]  # [weekday][period]


def forecast(
    arrivals: Sequence[datetime], *, start: datetime, weeks: int, zone: ZoneInfo,
    calendar: Calendar, now: datetime,
) -> list[ForecastPoint]:
    """``weeks`` x 7 x 48 points from ``start`` (a local Monday midnight, aware): the expected
    handoffs per interval, learnt from ``arrivals`` (the handoffs' creation times before
    ``now``), with the special days' uplift. The method is in the module's docstring."""
    first_day = _check(start, weeks, now, zone)
    today = now.astimezone(zone).date()
    counts: dict[tuple[date, int], float] = {}
    first_seen: date | None = None
    for moment in arrivals:
        if moment.tzinfo is None:
            raise ValueError("arrival times must be timezone-aware")
        if moment >= now:
            continue
        local = moment.astimezone(zone)
        day = local.date()
        key = (day, (local.hour * 60 + local.minute) // INTERVAL_MINUTES)
        counts[key] = counts.get(key, 0.0) + 1.0
        first_seen = day if first_seen is None or day < first_seen else first_seen
    for (day, period), value in counts.items():
        counts[(day, period)] = value / (1.0 + calendar.uplift(day))
    complete_days = (today - first_seen).days if first_seen is not None else 0
    profile, growth, centre = _learn(counts, today, complete_days)
    points: list[ForecastPoint] = []
    for offset in range(weeks * DAYS_PER_WEEK):
        day = first_day + timedelta(days=offset)
        special = calendar.days.get(day)
        scale = 1.0 + (special.uplift if special is not None else 0.0)
        if growth != 1.0:
            trend = growth ** ((day.toordinal() + 0.5 - centre) / DAYS_PER_WEEK)
            scale *= min(max(trend, TREND_FACTOR_LIMITS[0]), TREND_FACTOR_LIMITS[1])
        for period in range(PERIODS_PER_DAY):
            minutes = period * INTERVAL_MINUTES
            local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
            points.append(ForecastPoint(
                start=local.astimezone(UTC),
                contacts=profile[day.weekday()][period] * scale,
                special=special.name if special is not None else None,
            ))
    return points


def _check(start: datetime, weeks: int, now: datetime, zone: ZoneInfo) -> date:
    if start.tzinfo is None or now.tzinfo is None:
        raise ValueError("start and now must be timezone-aware")
    local = start.astimezone(zone)
    if local.weekday() != 0 or local.time() != time(0, 0):
        raise ValueError(f"start must be a Monday midnight in {zone.key}, not {local:%A %H:%M}")
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be a whole number from 1 to {MAX_WEEKS}")
    return local.date()


def _learn(
    counts: dict[tuple[date, int], float], today: date, complete_days: int
) -> tuple[Profile, float, float]:
    """The weekly profile, the weekly growth and the history's weighted middle (day ordinal)."""
    blocks = complete_days // DAYS_PER_WEEK
    if blocks == 0:
        if complete_days == 0:
            return _zeros(), 1.0, 0.0
        days = [today - timedelta(days=n) for n in range(1, complete_days + 1)]
        average = [sum(counts.get((day, p), 0.0) for day in days) / len(days)
                   for p in range(PERIODS_PER_DAY)]
        return [list(average) for _ in range(DAYS_PER_WEEK)], 1.0, 0.0
    profile = _zeros()
    totals: list[float] = []
    weights = [DECAY ** (k - 1) for k in range(1, blocks + 1)]
    for k, weight in enumerate(weights, start=1):
        total = 0.0
        for n in range(DAYS_PER_WEEK):
            day = today - timedelta(days=DAYS_PER_WEEK * k - n)
            for p in range(PERIODS_PER_DAY):
                value = counts.get((day, p), 0.0)
                profile[day.weekday()][p] += weight * value
                total += value
        totals.append(total)
    weight_sum = sum(weights)
    profile = [[value / weight_sum for value in row] for row in profile]
    # block k's middle is 7k - 3.5 days before today
    centre = today.toordinal() - sum(
        w * (DAYS_PER_WEEK * k - DAYS_PER_WEEK / 2) for k, w in enumerate(weights, start=1)
    ) / weight_sum
    return profile, _growth(totals), centre


def _growth(totals: list[float]) -> float:
    """Weekly growth from the blocks' totals (index 0 = the most recent week)."""
    if len(totals) < 2:
        return 1.0
    half = len(totals) // 2
    recent, older = totals[:half], totals[half:]
    mean_recent, mean_older = sum(recent) / len(recent), sum(older) / len(older)
    if mean_recent <= 0 or mean_older <= 0:
        return 1.0
    gap = (half + 1 + len(totals)) / 2 - (1 + half) / 2  # mean k of the older minus the recent
    growth = float((mean_recent / mean_older) ** (1 / gap))
    return min(max(growth, WEEKLY_GROWTH_LIMITS[0]), WEEKLY_GROWTH_LIMITS[1])


def _zeros() -> Profile:
    return [[0.0] * PERIODS_PER_DAY for _ in range(DAYS_PER_WEEK)]
