"""A week's shifts covering the requirement with the fewest agent-hours (pyworkforce on
OR-Tools), assigned to the agents."""

from __future__ import annotations

from collections.abc import Sequence

from handoff.workforce.model import Schedule, ShiftKind


def schedule_week(
    required: Sequence[Sequence[int]], shifts: Sequence[ShiftKind], agents: Sequence[int], *,
    max_days_per_agent: int = 5, time_limit_seconds: float = 20.0,
) -> Schedule:
    """Cover ``required`` ([7][48] agents) with shifts, then give them to ``agents`` (ids)."""
    raise NotImplementedError
