"""Shift patterns (lengths, start times, breaks) from handoff/data/shifts.yml.

Everything is in whole 30-minute intervals: a shift starts on the hour or half-hour, lasts a
multiple of half an hour and ends by midnight of its day (so days are planned independently);
a break starts a multiple of 30 minutes after the shift start and lasts a multiple of 30
minutes, inside the shift.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from handoff.workforce.model import INTERVAL_MINUTES, PERIODS_PER_DAY, ShiftKind, WorkforceDataError
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import Loc, YamlDocument, display_path, read_yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "shifts.yml"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SHIFT_KEYS = ("name", "start", "hours", "breaks", "days")
_BREAK_KEYS = ("after", "minutes")


def read_document(path: Path) -> YamlDocument:
    """The YAML of a workforce data file; syntax errors as WorkforceDataError (FILE:LINE)."""
    try:
        return read_yaml(path)
    except KnowledgeBaseError as exc:
        raise WorkforceDataError("\n".join(exc.problems)) from exc
    except ValueError as exc:  # PyYAML's date constructor on an impossible date (2026-02-30)
        line = _bad_date_line(path)
        raise WorkforceDataError(f"{display_path(path)}:{line}: not a real date ({exc}); "
                                 "write it as YYYY-MM-DD") from exc


def _bad_date_line(path: Path) -> int:
    """The line of the first YAML date that is not a real day (1 when there is none)."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    todo: list[yaml.Node] = [root] if root is not None else []
    while todo:
        node = todo.pop(0)
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":timestamp"):
            try:
                datetime.fromisoformat(node.value)
            except ValueError:
                return int(node.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            todo.extend(value for pair in node.value for value in pair)
    return 1


def load_shifts(path: Path = DEFAULT_PATH) -> tuple[ShiftKind, ...]:
    """Read and check the shifts; WorkforceDataError naming the file and line when wrong (every
    problem found, one per line)."""
    doc = read_document(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("shifts"), list) or \
            not data["shifts"]:
        raise WorkforceDataError(doc.problem(
            (), "must be a mapping with a non-empty list 'shifts' (name, start, hours, ...)"))
    problems = [doc.problem((key,), "unknown field (expected shifts)")
                for key in data if key != "shifts"]
    kinds: list[ShiftKind] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["shifts"]):
        kind = _shift(doc, ("shifts", index), raw, problems)
        if kind is None:
            continue
        if kind.name in seen:
            problems.append(doc.problem(("shifts", index, "name"),
                                        f"duplicate shift name {kind.name!r}"))
            continue
        seen.add(kind.name)
        kinds.append(kind)
    if problems:
        raise WorkforceDataError("\n".join(problems))
    return tuple(kinds)


def coverage(kind: ShiftKind) -> list[int]:
    """48 flags: 1 where the shift's agent works in that interval of its day, 0 elsewhere and in
    breaks."""
    first = (kind.start.hour * 60 + kind.start.minute) // INTERVAL_MINUTES
    length = round(kind.hours * 60) // INTERVAL_MINUTES
    flags = [0] * PERIODS_PER_DAY
    for period in range(first, min(first + length, PERIODS_PER_DAY)):
        flags[period] = 1
    for after, minutes in kind.breaks:
        begin = first + after // INTERVAL_MINUTES
        for period in range(begin, min(begin + minutes // INTERVAL_MINUTES, PERIODS_PER_DAY)):
            flags[period] = 0
    return flags


def _shift(doc: YamlDocument, loc: Loc, raw: Any, problems: list[str]) -> ShiftKind | None:
    if not isinstance(raw, dict):
        problems.append(doc.problem(loc, "a shift is a mapping: name, start, hours "
                                         "(and optionally breaks, days)"))
        return None
    before = len(problems)
    for key in raw:
        if key not in _SHIFT_KEYS:
            problems.append(doc.problem((*loc, key), f"unknown field (expected "
                                                     f"{', '.join(_SHIFT_KEYS)})"))
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(doc.problem((*loc, "name"), "a shift name is 1-32 characters a-z, 0-9, _"))
    start = _start(doc, (*loc, "start"), raw.get("start"), problems)
    hours = raw.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0 or \
            (hours * 60) % INTERVAL_MINUTES:
        problems.append(doc.problem((*loc, "hours"), "hours: a number of hours above 0 in "
                                                     "steps of 0.5, e.g. 8 or 4.5"))
        hours = None
    if start is not None and hours is not None and \
            start.hour * 60 + start.minute + hours * 60 > 24 * 60:
        problems.append(doc.problem((*loc, "hours"), f"the shift would end after midnight "
                                                     f"({start:%H:%M} + {hours} h); a shift must "
                                                     "end by midnight of its day: start earlier "
                                                     "or make it shorter"))
    breaks = _breaks(doc, (*loc, "breaks"), raw.get("breaks"), hours, problems)
    days = _days(doc, (*loc, "days"), raw.get("days", list(WEEKDAYS)), problems)
    if len(problems) > before or start is None or hours is None or not isinstance(name, str):
        return None
    return ShiftKind(name=name, start=start, hours=float(hours), breaks=breaks, days=days)


def _start(doc: YamlDocument, loc: Loc, raw: Any, problems: list[str]) -> time | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        # YAML 1.1 reads an unquoted 13:00 as the number 780
        problems.append(doc.problem(loc, 'write the start time in quotes, e.g. start: "13:00"'))
        return None
    match = _TIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        problems.append(doc.problem(loc, 'start: a local time "HH:MM", e.g. "07:00"'))
        return None
    hour, minute = int(match[1]), int(match[2])
    if minute % INTERVAL_MINUTES:
        problems.append(doc.problem(loc, f"start {raw!r}: shifts start on the hour or the "
                                         "half-hour (planning is in 30-minute intervals)"))
        return None
    return time(hour, minute)


def _breaks(
    doc: YamlDocument, loc: Loc, raw: Any, hours: float | None, problems: list[str]
) -> tuple[tuple[int, int], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(doc.problem(loc, "breaks: a list of {after: MINUTES, minutes: MINUTES}"))
        return ()
    out: list[tuple[int, int]] = []
    for index, item in enumerate(raw):
        here = (*loc, index)
        if not isinstance(item, dict):
            problems.append(doc.problem(here, "a break is {after: MINUTES after the shift "
                                              "start, minutes: ITS LENGTH}"))
            continue
        unknown = [key for key in item if key not in _BREAK_KEYS]
        for key in unknown:
            problems.append(doc.problem((*here, key), "unknown field (expected after, minutes)"))
        after, minutes = item.get("after"), item.get("minutes")
        if not _whole_intervals(after, allow_zero=False) or \
                not _whole_intervals(minutes, allow_zero=False):
            problems.append(doc.problem(here, "after and minutes: whole minutes above 0 in "
                                              "steps of 30, e.g. {after: 240, minutes: 30}"))
            continue
        assert isinstance(after, int) and isinstance(minutes, int)
        if hours is not None and after + minutes >= hours * 60:
            problems.append(doc.problem(here, f"the break ({after}+{minutes} min) does not end "
                                              f"before the shift does ({hours} h)"))
            continue
        overlap = [b for b in out if after < b[0] + b[1] and b[0] < after + minutes]
        if overlap:
            problems.append(doc.problem(here, f"the break overlaps the break after "
                                              f"{overlap[0][0]} minutes"))
            continue
        if not unknown:
            out.append((after, minutes))
    return tuple(sorted(out))


def _whole_intervals(value: Any, *, allow_zero: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (value > 0 or (allow_zero and value == 0)) and value % INTERVAL_MINUTES == 0


def _days(doc: YamlDocument, loc: Loc, raw: Any, problems: list[str]) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw or not all(
        isinstance(day, str) and day in WEEKDAYS for day in raw
    ):
        problems.append(doc.problem(loc, f"days: a non-empty list of {', '.join(WEEKDAYS)}"))
        return ()
    if len(set(raw)) != len(raw):
        problems.append(doc.problem(loc, "days: a weekday is listed twice"))
        return ()
    return tuple(sorted(WEEKDAYS.index(day) for day in raw))
