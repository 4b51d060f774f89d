"""Skills-based routing (stub until the implementation lands)."""

from __future__ import annotations


class Routing:
    def __init__(self, *, fallback_seconds: int) -> None:
        self.fallback_seconds = fallback_seconds
