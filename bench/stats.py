"""Latency percentiles and throughput of one load run (pure arithmetic, tested on known input)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or
    below it (no interpolation, so it is always a latency that was really observed)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """What one run measured: answered messages per second and latency percentiles (seconds)."""

    messages: int  # answered with 200 within the measured window
    errors: int  # non-200 answers and failed requests in the window
    seconds: float
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def summarise(latencies: Sequence[float], errors: int, seconds: float) -> Summary:
    """``latencies`` of the successful requests of the window; ``seconds`` its length."""
    if latencies:
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        return Summary(len(latencies), errors, seconds, p50, p95, p99)
    return Summary(0, errors, seconds, None, None, None)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs``; None when either is missing or ``theirs`` is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
