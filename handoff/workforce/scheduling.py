"""A week's shifts covering the requirement with the fewest agent-hours (pyworkforce on
OR-Tools), assigned to the agents.

Two steps:

1. **How many of each shift, each day.** Shifts end by midnight of their day, so the days are
   independent and each is solved on its own with pyworkforce's ``MinRequiredResources`` (CP-SAT):
   the shift counts whose coverage (breaks excluded) meets the requirement in every interval,
   with the fewest paid half-hours (the cost of a shift is its length). Solving day by day is how
   ``ShiftKind.days`` is honoured: a day's model only has the shift kinds that may be worked that
   day. Intervals that no allowed shift covers cannot be staffed; they are left out of the model,
   counted in ``short`` and named in ``notes``.
2. **Who works them.** A deterministic assignment, not ``MinHoursRoster``: that model forces
   every agent to work a minimum number of days and knows nothing of fairness in hours, while the
   shifts are already fixed by step 1; what is left is giving day ``d``'s ``c_d`` shifts to
   distinct agents with at most ``max_days_per_agent`` days each. Taking each day the agents with
   the most days still free (then the fewest hours so far, then the lowest id) always succeeds
   when any assignment does (the greedy construction of the Gale-Ryser theorem) and spreads days
   and hours evenly. When agents are too few, each day's quota is cut so that the shortfall is
   spread over the week (the day missing the most shifts loses first), a day's shifts are
   taken one of each kind in turn (so the cut falls on the kind run most often), and ``short``
   and ``notes`` say what is uncovered.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyworkforce.scheduling import MinRequiredResources

from handoff.workforce.model import (
    DAYS_PER_WEEK,
    INTERVAL_MINUTES,
    PERIODS_PER_DAY,
    Assignment,
    Schedule,
    ShiftKind,
)
from handoff.workforce.shifts import coverage as shift_coverage

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SEARCH_WORKERS = 1  # the machine is shared; one worker solves a day in well under a second


def schedule_week(
    required: Sequence[Sequence[int]], shifts: Sequence[ShiftKind], agents: Sequence[int], *,
    max_days_per_agent: int = 5, time_limit_seconds: float = 20.0,
) -> Schedule:
    """Cover ``required`` ([7][48] agents) with shifts, then give them to ``agents`` (ids)."""
    need = _check(required, shifts, agents, max_days_per_agent, time_limit_seconds)
    notes: list[str] = []
    flags = {kind.name: shift_coverage(kind) for kind in shifts}
    per_day: list[list[ShiftKind]] = []
    for day in range(DAYS_PER_WEEK):
        kinds = [kind for kind in shifts if day in kind.days]
        per_day.append(_solve_day(day, need[day], kinds, flags, time_limit_seconds, notes))
    assignments = _assign(per_day, list(agents), max_days_per_agent, notes)
    kinds_by_name = {kind.name: kind for kind in shifts}
    covered = [[0] * PERIODS_PER_DAY for _ in range(DAYS_PER_WEEK)]
    hours = 0.0
    for item in assignments:
        hours += kinds_by_name[item.shift].hours
        for period, flag in enumerate(flags[item.shift]):
            covered[item.day][period] += flag
    short = sum(max(0, need[d][p] - covered[d][p])
                for d in range(DAYS_PER_WEEK) for p in range(PERIODS_PER_DAY))
    return Schedule(assignments=assignments, coverage=covered, required=need, short=short,
                    agent_hours=hours, notes=notes)


def _check(
    required: Sequence[Sequence[int]], shifts: Sequence[ShiftKind], agents: Sequence[int],
    max_days_per_agent: int, time_limit_seconds: float,
) -> list[list[int]]:
    if len(required) != DAYS_PER_WEEK or any(len(day) != PERIODS_PER_DAY for day in required):
        raise ValueError(f"required must be {DAYS_PER_WEEK} days of {PERIODS_PER_DAY} "
                         "intervals (Monday first)")
    need = [[int(value) for value in day] for day in required]
    if any(value < 0 or value != raw for day, raw_day in zip(need, required, strict=True)
           for value, raw in zip(day, raw_day, strict=True)):
        raise ValueError("required holds whole numbers of agents, 0 or more")
    if not shifts:
        raise ValueError("no shift kinds to schedule with (handoff/data/shifts.yml)")
    if len({kind.name for kind in shifts}) != len(shifts):
        raise ValueError("two shift kinds have the same name")
    if len(set(agents)) != len(agents):
        raise ValueError("an agent id is listed twice")
    if not 1 <= max_days_per_agent <= DAYS_PER_WEEK:
        raise ValueError(f"max_days_per_agent must be 1 to {DAYS_PER_WEEK}")
    if time_limit_seconds <= 0:
        raise ValueError("time_limit_seconds must be above 0")
    return need


def _solve_day(
    day: int, need: list[int], kinds: list[ShiftKind], flags: dict[str, list[int]],
    time_limit_seconds: float, notes: list[str],
) -> list[ShiftKind]:
    """The shifts to run on ``day`` (one entry per agent needed), longest first."""
    coverable = [any(flags[kind.name][p] for kind in kinds) for p in range(PERIODS_PER_DAY)]
    uncovered = [p for p in range(PERIODS_PER_DAY) if need[p] > 0 and not coverable[p]]
    if uncovered:
        notes.append(f"{DAY_NAMES[day]}: no shift covers {_spans(uncovered)}; add a shift "
                     "there in shifts.yml")
    target = [value if coverable[p] else 0 for p, value in enumerate(need)]
    if not any(target):
        return []
    peak = max(target)
    model = MinRequiredResources(
        num_days=1, periods=PERIODS_PER_DAY,
        shifts_coverage={kind.name: flags[kind.name] for kind in kinds},
        required_resources=[target],
        max_period_concurrency=peak * len(kinds), max_shift_concurrency=peak,
        cost_dict={kind.name: round(kind.hours * 60) // INTERVAL_MINUTES for kind in kinds},
        max_search_time=float(time_limit_seconds), num_search_workers=SEARCH_WORKERS,
    )
    # pyworkforce stores the worker count on the solver object, where CP-SAT ignores it
    model.solver.parameters.num_workers = SEARCH_WORKERS
    solution = model.solve()
    status = str(solution["status"])  # CP-SAT's status name
    if status not in ("OPTIMAL", "FEASIBLE"):
        notes.append(f"{DAY_NAMES[day]}: the solver found no shift plan ({status}); "
                     "try a longer time limit")
        return []
    if status == "FEASIBLE":
        notes.append(f"{DAY_NAMES[day]}: the time limit ran out before the plan was proven "
                     "the cheapest; it covers the requirement but may use more hours")
    by_name = {kind.name: kind for kind in kinds}
    counts = {str(row["shift"]): int(row["resources"]) for row in solution["resources_shifts"]}
    # one of each kind in turn, so that when agents are too few the cut falls on the kind run
    # most often rather than wiping out a whole part of the day
    order = sorted((name for name in counts if counts[name] > 0),
                   key=lambda name: (-by_name[name].hours, by_name[name].start, name))
    out: list[ShiftKind] = []
    while any(counts[name] for name in order):
        for name in order:
            if counts[name]:
                counts[name] -= 1
                out.append(by_name[name])
    return out


def _assign(
    per_day: list[list[ShiftKind]], agents: list[int], max_days: int, notes: list[str]
) -> list[Assignment]:
    quota = _quotas([len(day) for day in per_day], len(agents), max_days)
    days_worked = dict.fromkeys(agents, 0)
    hours_worked = dict.fromkeys(agents, 0.0)
    out: list[Assignment] = []
    for day, kinds in enumerate(per_day):
        dropped = kinds[quota[day]:]
        if dropped:
            names = ", ".join(f"{name} x{sum(k.name == name for k in dropped)}"
                              for name in dict.fromkeys(kind.name for kind in dropped))
            notes.append(f"{DAY_NAMES[day]}: {len(dropped)} of {len(kinds)} shifts have no "
                         f"agent ({names}); add agents or allow more days per agent")
        for kind in kinds[:quota[day]]:
            free = [a for a in agents if days_worked[a] < max_days and
                    not any(item.agent_id == a and item.day == day for item in out)]
            agent = min(free, key=lambda a: (-(max_days - days_worked[a]), hours_worked[a], a))
            days_worked[agent] += 1
            hours_worked[agent] += kind.hours
            out.append(Assignment(agent_id=agent, day=day, shift=kind.name))
    return out


def _quotas(counts: list[int], agents: int, max_days: int) -> list[int]:
    """How many of each day's shifts get an agent: all when possible; else at most ``agents`` a
    day and ``agents * max_days`` in the week, the cuts spread over the days."""
    caps = [min(count, agents) for count in counts]
    budget = agents * max_days
    if sum(caps) <= budget:
        return caps
    quota = [0] * len(counts)
    for _ in range(budget):
        # the day missing the largest share of its shifts gets the next agent-day
        day = min((d for d in range(len(counts)) if quota[d] < caps[d]),
                  key=lambda d: (quota[d] / counts[d], d))
        quota[day] += 1
    return quota


def _spans(periods: list[int]) -> str:
    """``[14, 15, 16, 30]`` -> ``"07:00-08:30, 15:00-15:30"``."""
    spans: list[tuple[int, int]] = []
    for p in periods:
        if spans and spans[-1][1] == p:
            spans[-1] = (spans[-1][0], p + 1)
        else:
            spans.append((p, p + 1))
    return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans)


def _clock(period: int) -> str:
    minutes = period * INTERVAL_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
