"""Workforce planning (#16), the pure parts: Erlang C staffing against textbook values, the
forecast recovering a known weekly pattern (with trend and special days), the week's schedule
covering the requirement with the fewest agent-hours, the YAML data checks and
``abonent workforce staffing``.
"""

from __future__ import annotations

import itertools
import math
import random
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from bot import cli
from handoff.workforce.calendar import Calendar, load_calendar
from handoff.workforce.forecast import forecast
from handoff.workforce.model import ShiftKind, SpecialDay, Staffing, WorkforceDataError
from handoff.workforce.scheduling import schedule_week
from handoff.workforce.shifts import coverage, load_shifts
from handoff.workforce.staffing import staff

MINSK = ZoneInfo("Europe/Minsk")
TEXTBOOK: dict[str, float] = {"aht_seconds": 180, "target_seconds": 20, "service_level": 0.8,
                               "shrinkage": 0.0, "max_occupancy": 1.0}
STAFFING_ARGS = ["workforce", "staffing", "--contacts", "100", "--interval", "30", "--aht", "180",
                 "--target", "20", "--service-level", "0.8", "--shrinkage", "0",
                 "--max-occupancy", "1"]
TEXTBOOK_LINES = ["raw agents: 14", "rostered agents: 14", "service level: 88.8%",
                  "occupancy: 71.4%", "waiting probability: 17.4%"]


def erlang(contacts: float, **change: float) -> Staffing:
    """The textbook case (30 minutes, AHT 180 s, 80% in 20 s, no shrinkage) with ``change``."""
    values = {**TEXTBOOK, **change}
    return staff(contacts, aht_seconds=values["aht_seconds"],
                 target_seconds=values["target_seconds"], service_level=values["service_level"],
                 shrinkage=values["shrinkage"], max_occupancy=values["max_occupancy"])


# -- Erlang C --------------------------------------------------------------------------------------

def test_the_textbook_case_needs_14_agents() -> None:
    # 100 contacts of 3 minutes in 30 minutes = 10 erlangs; the Erlang C table for A = 10 gives
    # 14 agents: P(wait) 17.4%, 88.8% answered within 20 s, occupancy 10/14
    result = erlang(100)
    assert (result.raw_agents, result.agents) == (14, 14)
    assert result.service_level == pytest.approx(0.88835, abs=1e-5)
    assert result.occupancy == pytest.approx(10 / 14)
    assert result.waiting_probability == pytest.approx(0.1741, abs=1e-4)


@pytest.mark.parametrize(("target", "agents", "waiting", "reached"), [
    # the neighbours in the same table: 13 agents wait 28.5%, 79.6% answered in 20 s (just
    # short of 80%, hence 14 above); 15 agents wait 10.2%, 94.1% answered
    (0.79, 13, 0.2853, 0.7956),
    (0.94, 15, 0.1020, 0.9415),
])
def test_the_neighbouring_textbook_values(
    target: float, agents: int, waiting: float, reached: float
) -> None:
    result = erlang(100, service_level=target)
    assert result.raw_agents == agents
    assert result.waiting_probability == pytest.approx(waiting, abs=1e-4)
    # SL = 1 - P(wait) * exp(-(N - A) * target / AHT)
    assert result.service_level == pytest.approx(
        1 - result.waiting_probability * math.exp(-(agents - 10) * 20 / 180))
    assert result.service_level == pytest.approx(reached, abs=1e-4)


def test_shrinkage_rosters_more_agents() -> None:
    result = erlang(100, shrinkage=0.3)
    assert result.raw_agents == 14
    assert result.agents == math.ceil(14 / 0.7) == 20


def test_a_maximum_occupancy_raises_the_agents() -> None:
    # 14 agents would be 71.4% busy; at most 65% needs ceil(10 / 0.65) = 16
    result = erlang(100, max_occupancy=0.65)
    assert result.raw_agents == 16
    assert result.occupancy == pytest.approx(10 / 16)
    assert result.service_level > 0.88835


def test_no_contacts_need_no_agents() -> None:
    result = erlang(0)
    assert (result.raw_agents, result.agents, result.service_level, result.occupancy) == \
        (0, 0, 1.0, 0.0)


@pytest.mark.parametrize(("change", "words"), [
    ({"service_level": 1.0}, "service level"),
    ({"shrinkage": 1.0}, "shrinkage"),
    ({"max_occupancy": 0.0}, "maximum occupancy"),
    ({"aht_seconds": 0}, "handling time"),
    ({"target_seconds": -5}, "target"),
])
def test_bad_staffing_values_are_refused_in_words(change: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        erlang(100, **change)
    with pytest.raises(ValueError, match="contacts"):
        erlang(-1)


def test_the_command_prints_the_textbook_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(STAFFING_ARGS) == 0
    assert capsys.readouterr().out.splitlines() == TEXTBOOK_LINES


def test_the_command_refuses_a_bad_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*STAFFING_ARGS, "--service-level", "1.5"]) == 2
    assert "service level is a share between 0 and 1" in capsys.readouterr().err


def test_the_installed_command_prints_the_textbook_case() -> None:
    abonent = Path(sys.executable).with_name("abonent")
    done = subprocess.run([str(abonent), *STAFFING_ARGS], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == TEXTBOOK_LINES


# -- forecast --------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 8, tzinfo=MINSK)  # a Monday midnight: the forecast starts here
NO_DAYS = Calendar(MappingProxyType({}))


def pattern(day: date, period: int) -> float:
    """Nights empty, Monday 10:00-11:00 busy, weekdays 8 an interval, weekends half."""
    if period < 14 or period >= 44:  # before 07:00, from 22:00
        return 0.0
    if day.weekday() == 0 and period in (20, 21):
        return 20.0
    return 8.0 if day.weekday() < 5 else 4.0


def history(
    weeks: int, *, growth: float = 1.0, scale: dict[date, float] | None = None, seed: int = 16,
) -> list[datetime]:
    """Arrivals over the ``weeks`` before NOW following ``pattern`` with +-20% noise, each week
    ``growth`` times the one before (the most recent as in ``pattern``)."""
    rng = random.Random(seed)
    out = []
    first = NOW.date() - timedelta(days=7 * weeks)
    for offset in range(7 * weeks):
        day = first + timedelta(days=offset)
        level = growth ** (offset // 7 - (weeks - 1)) * (scale or {}).get(day, 1.0)
        for period in range(48):
            mean = pattern(day, period) * level
            begin = datetime.combine(day, time(period // 2, 30 * (period % 2)), tzinfo=MINSK)
            for _ in range(round(mean * rng.uniform(0.8, 1.2))):
                out.append((begin + timedelta(seconds=rng.uniform(0, 1799))).astimezone(UTC))
    return out


def test_the_forecast_recovers_the_weekly_pattern() -> None:
    points = forecast(history(8), start=NOW, weeks=2, zone=MINSK, calendar=NO_DAYS, now=NOW)
    assert len(points) == 2 * 7 * 48
    assert points[0].start == datetime(2026, 6, 7, 21, tzinfo=UTC)  # Minsk is UTC+3
    assert all(b.start - a.start == timedelta(minutes=30) for a, b in itertools.pairwise(points))
    for index, point in enumerate(points):
        day, period = NOW.date() + timedelta(days=index // 48), index % 48
        expected = pattern(day, period)
        if expected == 0:
            assert point.contacts == 0, (day, period)
        else:  # +-20% noise and rounding per interval: the 8-week average is off by about 6%
            # (one standard deviation) at 4 contacts; 25% is four of them
            assert point.contacts == pytest.approx(expected, rel=0.25), (day, period)
    for offset in range(14):  # a day's total averages 30 intervals: within 5%
        expected_total = sum(pattern(NOW.date() + timedelta(days=offset), q) for q in range(48))
        got = sum(p.contacts for p in points[offset * 48:(offset + 1) * 48])
        assert got == pytest.approx(expected_total, rel=0.05), offset
    monday_peak = points[20].contacts
    assert monday_peak > 2 * points[26].contacts  # Monday 10:00 vs Monday 13:00


def test_the_forecast_follows_a_trend() -> None:
    # each week 5% more than the one before: the coming week should be 5% above the last
    points = forecast(history(8, growth=1.05), start=NOW, weeks=1, zone=MINSK, calendar=NO_DAYS,
                      now=NOW)
    last_week = sum(pattern(NOW.date() + timedelta(days=i // 48), i % 48) for i in range(336))
    assert sum(p.contacts for p in points) == pytest.approx(last_week * 1.05, rel=0.04)
    flat = forecast(history(8), start=NOW, weeks=1, zone=MINSK, calendar=NO_DAYS, now=NOW)
    assert sum(p.contacts for p in flat) == pytest.approx(last_week, rel=0.04)


def test_a_special_day_ahead_gets_its_uplift_and_one_behind_does_not_distort() -> None:
    holiday = NOW.date() - timedelta(days=14)  # a Monday in the history at half the contacts
    tariff_day = NOW.date() + timedelta(days=1)  # the coming Tuesday: +50%
    calendar = Calendar(MappingProxyType({
        holiday: SpecialDay(holiday, "holiday", -0.5),
        tariff_day: SpecialDay(tariff_day, "tariff change", 0.5),
    }))
    arrivals = history(8, scale={holiday: 0.5})
    points = forecast(arrivals, start=NOW, weeks=1, zone=MINSK, calendar=calendar, now=NOW)
    monday, tuesday = points[:48], points[48:96]
    assert monday[20].contacts == pytest.approx(20, rel=0.12)  # the holiday was divided back
    assert monday[20].special is None
    assert tuesday[24].special == "tariff change"
    assert tuesday[24].contacts == pytest.approx(8 * 1.5, rel=0.12)
    # without the calendar the halved Monday drags the Monday forecast down
    naive = forecast(arrivals, start=NOW, weeks=1, zone=MINSK, calendar=NO_DAYS, now=NOW)
    assert naive[20].contacts < monday[20].contacts * 0.95


def test_a_short_history_is_averaged_by_time_of_day_and_none_gives_zeros() -> None:
    three_days = [a for a in history(1) if a >= NOW - timedelta(days=3)]  # Fri..Sun
    points = forecast(three_days, start=NOW, weeks=1, zone=MINSK, calendar=NO_DAYS, now=NOW)
    # every day gets the average of Friday (8) and the weekend (4): 16/3 at 12:00
    assert points[24].contacts == pytest.approx(16 / 3, rel=0.15)
    assert points[24].contacts == points[24 + 48 * 5].contacts  # Monday as Saturday
    assert points[2].contacts == 0
    empty = forecast([], start=NOW, weeks=1, zone=MINSK, calendar=NO_DAYS, now=NOW)
    assert len(empty) == 336 and all(p.contacts == 0 for p in empty)


def test_arrivals_after_now_are_ignored_and_start_must_be_a_monday() -> None:
    later = [NOW + timedelta(hours=h) for h in range(1, 100)]
    assert all(p.contacts == 0 for p in forecast(later, start=NOW, weeks=1, zone=MINSK,
                                                 calendar=NO_DAYS, now=NOW))
    with pytest.raises(ValueError, match="Monday midnight"):
        forecast([], start=NOW + timedelta(days=1), weeks=1, zone=MINSK, calendar=NO_DAYS,
                 now=NOW)


def test_forecast_intervals_are_local_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 23, tzinfo=berlin)  # the clocks go forward on Sunday 29 March
    points = forecast([], start=start, weeks=2, zone=berlin, calendar=NO_DAYS, now=start)
    assert len(points) == 2 * 336
    assert points[0].start == datetime(2026, 3, 22, 23, tzinfo=UTC)
    assert points[7 * 48].start == datetime(2026, 3, 29, 22, tzinfo=UTC)  # now UTC+2
    assert all(p.start.tzinfo is UTC for p in points)


# -- schedule --------------------------------------------------------------------------------------

MORNING = ShiftKind("morning", time(8), 4)
AFTERNOON = ShiftKind("afternoon", time(12), 4)
FULL = ShiftKind("full", time(8), 8)
SMALL_SHIFTS = (MORNING, AFTERNOON, FULL)


def weekday_requirement() -> list[list[int]]:
    """Monday to Friday: 2 agents 08:00-12:00, 1 agent 12:00-16:00; the weekend closed."""
    day = [0] * 16 + [2] * 8 + [1] * 8 + [0] * 16
    return [list(day) for _ in range(5)] + [[0] * 48, [0] * 48]


def test_the_schedule_covers_the_requirement_with_the_fewest_hours() -> None:
    required = weekday_requirement()
    result = schedule_week(required, SMALL_SHIFTS, agents=[1, 2, 3, 4, 5])
    for day in range(7):
        for period in range(48):
            assert result.coverage[day][period] >= required[day][period], (day, period)
    # by hand: two agents in the morning and one in the afternoon take at least 12 hours a
    # day (morning + full, or morning x2 + afternoon): 60 hours over five days
    assert result.agent_hours == 60
    assert result.short == 0 and result.notes == []
    assert result.required == required
    days: dict[int, list[int]] = {}
    for item in result.assignments:
        days.setdefault(item.agent_id, []).append(item.day)
    assert all(len(d) == len(set(d)) for d in days.values())  # one shift a day at most
    assert all(len(d) <= 5 for d in days.values())
    # coverage is what the assigned shifts give
    kinds = {k.name: k for k in SMALL_SHIFTS}
    rebuilt = [[0] * 48 for _ in range(7)]
    for item in result.assignments:
        for period, flag in enumerate(coverage(kinds[item.shift])):
            rebuilt[item.day][period] += flag
    assert rebuilt == result.coverage


def test_the_days_are_spread_over_the_agents() -> None:
    result = schedule_week(weekday_requirement(), SMALL_SHIFTS, agents=[7, 8, 9, 10],
                           max_days_per_agent=4)
    assert result.short == 0
    worked = [sum(a.agent_id == agent for a in result.assignments) for agent in (7, 8, 9, 10)]
    assert max(worked) <= 4 and max(worked) - min(worked) <= 1


def test_too_few_agents_leave_a_shortfall_in_words() -> None:
    result = schedule_week(weekday_requirement(), SMALL_SHIFTS, agents=[1],
                           max_days_per_agent=5)
    assert result.short > 0
    assert len(result.assignments) == 5
    assert any("have no agent" in note for note in result.notes)


def test_a_shift_kind_is_only_used_on_its_days() -> None:
    weekday_only = ShiftKind("full", time(8), 8, days=(0, 1, 2, 3, 4))
    required = [[0] * 16 + [1] * 16 + [0] * 16 for _ in range(7)]
    result = schedule_week(required, [weekday_only], agents=list(range(10)))
    assert {a.day for a in result.assignments} == {0, 1, 2, 3, 4}
    assert result.short == 2 * 16
    assert any(note.startswith("Saturday: no shift covers 08:00-16:00") for note in result.notes)


def test_the_shipped_shifts_schedule_a_busy_week_quickly() -> None:
    required = [[0] * 14 + [3] * 10 + [6] * 12 + [4] * 8 + [2] * 4 for _ in range(7)]
    result = schedule_week(required, load_shifts(), agents=list(range(1, 40)))
    assert result.short == 0
    assert all(c >= r for cd, rd in zip(result.coverage, required, strict=True)
               for c, r in zip(cd, rd, strict=True))


# -- the data files --------------------------------------------------------------------------------

def test_the_shipped_data_loads() -> None:
    kinds = {kind.name: kind for kind in load_shifts()}
    assert kinds["evening"].start == time(16) and kinds["evening"].hours == 8
    assert coverage(kinds["early"]) == [0] * 14 + [1] * 8 + [0] + [1] * 7 + [0] * 18
    calendar = load_calendar()
    assert calendar.uplift(date(2026, 7, 3)) < 0  # Independence Day
    assert calendar.uplift(date(2027, 5, 11)) < 0  # Radunitsa
    assert calendar.uplift(date(2026, 7, 6)) == 0


@pytest.mark.parametrize(("text", "line", "words"), [
    ("shifts:\n  - name: a\n    start: '07:00'\n    hours: 8\n    colour: red\n", 5,
     "unknown field"),
    ("shifts:\n  - name: a\n    start: '7 am'\n    hours: 8\n", 3, "HH:MM"),
    ("shifts:\n  - name: a\n    start: 13:00\n    hours: 8\n", 3, "in quotes"),
    ("shifts:\n  - name: a\n    start: '20:00'\n    hours: 8\n", 4, "end by midnight"),
    (("shifts:\n  - name: a\n    start: '08:00'\n    hours: 8\n"
     "  - name: a\n    start: '09:00'\n    hours: 8\n"), 5, "duplicate shift name"),
    (("shifts:\n  - name: a\n    start: '08:00'\n    hours: 8\n    breaks:\n"
     "      - {after: 120, minutes: 60}\n      - {after: 150, minutes: 30}\n"), 7, "overlaps"),
    ("shifts:\n  - name: a\n    start: '08:00'\n    hours: 8\n    days: [mon, funday]\n", 5,
     "mon, tue"),
    ("", 1, "non-empty list 'shifts'"),
    ("shifts: [\n", 2, "syntax"),
])
def test_a_broken_shifts_file_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "shifts.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkforceDataError) as caught:
        load_shifts(path)
    assert f"shifts.yml:{line}:" in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("days:\n  - {date: 2026-01-01, name: New Year, uplift: -1.5}\n", 2, "above -1"),
    (("days:\n  - {date: 2026-01-01, name: A, uplift: 0}\n"
     "  - {date: 2026-01-01, name: B, uplift: 0}\n"), 3, "listed twice"),
    ("days:\n  - date: 2026-02-30\n    name: X\n    uplift: 0.1\n", 2, "YYYY-MM-DD"),
    ("days:\n  - date: 30.02.2026\n    name: X\n    uplift: 0.1\n", 2, "YYYY-MM-DD"),
    ("days:\n  - {date: 2026-01-01, name: A, uplift: 0, when: all day}\n", 2, "unknown field"),
    ("days: []\nholidays: []\n", 2, "unknown field"),
])
def test_a_broken_calendar_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "calendar.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkforceDataError) as caught:
        load_calendar(path)
    assert f"calendar.yml:{line}:" in str(caught.value)
    assert words in str(caught.value)
