"""Shift patterns (lengths, start times, breaks) from handoff/data/shifts.yml."""

from __future__ import annotations

from pathlib import Path

from handoff.workforce.model import ShiftKind

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "shifts.yml"


def load_shifts(path: Path = DEFAULT_PATH) -> tuple[ShiftKind, ...]:
    """Read and check the shifts; WorkforceDataError naming the file and line when wrong."""
    raise NotImplementedError


def coverage(kind: ShiftKind) -> list[int]:
    """48 flags: 1 where the shift's agent works in that interval of its day, 0 elsewhere and in
    breaks."""
    raise NotImplementedError
