"""Special days (holidays, known events) and their uplift, from handoff/data/calendar.yml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from handoff.workforce.model import SpecialDay

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "calendar.yml"


@dataclass(frozen=True, slots=True)
class Calendar:
    days: Mapping[date, SpecialDay]

    def uplift(self, day: date) -> float:
        special = self.days.get(day)
        return special.uplift if special is not None else 0.0


def load_calendar(path: Path = DEFAULT_PATH) -> Calendar:
    """Read and check the calendar; WorkforceDataError naming the file and line when wrong."""
    raise NotImplementedError
