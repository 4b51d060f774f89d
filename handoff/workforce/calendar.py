"""Special days (holidays, known events) and their uplift, from handoff/data/calendar.yml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handoff.workforce.model import SpecialDay, WorkforceDataError
from handoff.workforce.shifts import read_document

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "calendar.yml"

MAX_UPLIFT = 10.0  # eleven times the usual load: anything above is surely a typo
_KEYS = ("date", "name", "uplift")


@dataclass(frozen=True, slots=True)
class Calendar:
    days: Mapping[date, SpecialDay]

    def uplift(self, day: date) -> float:
        special = self.days.get(day)
        return special.uplift if special is not None else 0.0


def load_calendar(path: Path = DEFAULT_PATH) -> Calendar:
    """Read and check the calendar; WorkforceDataError naming the file and line when wrong (every
    problem found, one per line)."""
    doc = read_document(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("days"), list):
        raise WorkforceDataError(doc.problem(
            (), "must be a mapping with a list 'days' of {date, name, uplift}"))
    problems = [doc.problem((key,), "unknown field (expected days)")
                for key in data if key != "days"]
    days: dict[date, SpecialDay] = {}
    for index, raw in enumerate(data["days"]):
        loc = ("days", index)
        if not isinstance(raw, dict):
            problems.append(doc.problem(loc, "a special day is {date: YYYY-MM-DD, name: TEXT, "
                                             "uplift: NUMBER}"))
            continue
        before = len(problems)
        for key in raw:
            if key not in _KEYS:
                problems.append(doc.problem((*loc, key), "unknown field (expected date, name, "
                                                         "uplift)"))
        day = _date(raw.get("date"))
        if day is None:
            problems.append(doc.problem((*loc, "date"), "date: a day as YYYY-MM-DD"))
        elif day in days:
            problems.append(doc.problem((*loc, "date"), f"{day} is listed twice"))
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(doc.problem((*loc, "name"), "name: the day's name, a text"))
        uplift = raw.get("uplift")
        if isinstance(uplift, bool) or not isinstance(uplift, int | float) or \
                not -1 < uplift <= MAX_UPLIFT:
            problems.append(doc.problem((*loc, "uplift"), f"uplift: a number above -1 and at "
                                                          f"most {MAX_UPLIFT:g} (0.4 = 40% more "
                                                          "contacts, -0.5 = half)"))
        if len(problems) == before and day is not None and isinstance(name, str) and \
                isinstance(uplift, int | float):
            days[day] = SpecialDay(day=day, name=name.strip(), uplift=float(uplift))
    if problems:
        raise WorkforceDataError("\n".join(problems))
    return Calendar(MappingProxyType(days))


def _date(raw: Any) -> date | None:
    if isinstance(raw, date):  # YAML reads an unquoted 2026-01-01 as a date already
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None
    return None
