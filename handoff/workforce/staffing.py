"""Agents needed per interval: Erlang C through pyworkforce."""

from __future__ import annotations

from handoff.workforce.model import INTERVAL_MINUTES, Staffing


def staff(
    contacts: float, *, aht_seconds: float, target_seconds: float, service_level: float,
    shrinkage: float, max_occupancy: float, interval_minutes: int = INTERVAL_MINUTES,
) -> Staffing:
    """Erlang C for one interval (0 contacts: 0 agents)."""
    raise NotImplementedError
