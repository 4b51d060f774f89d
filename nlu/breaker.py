"""A circuit breaker, so a dead Rasa costs one fast error instead of seconds of retries per message.

States::

    closed ──(failure_threshold failures in a row)──▶ open
    open ──(reset_after seconds pass; the next allow() lets one probe through)──▶ half-open
    half-open ──probe succeeds──▶ closed
    half-open ──probe fails──▶ open (the timer starts again)

While half-open only one probe is let through; if the probe never reports (its task was
cancelled), another one is allowed after ``reset_after`` seconds. The clock is injectable, so
tests move time instead of sleeping.

The default threshold is 3: one parse that fails all its attempts (1 + 2 retries) opens the
breaker, so while Rasa is down only the first message or two pay for the timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose time is up reports half-open)."""
        if self._state is BreakerState.OPEN and self._timer_expired(self._opened_at):
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted while closed."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.reset_after - self._clock())

    def would_allow(self) -> bool:
        """What :meth:`allow` would answer now, without taking the half-open probe (a pool asks
        every server's breaker before it picks one)."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return self._timer_expired(self._opened_at)
        return self._probe_started is None or self._timer_expired(self._probe_started)

    def twin(self) -> CircuitBreaker:
        """A new, closed breaker with the same threshold, reset time and clock: one per server
        of a pool, so one dead server does not open the circuit for the others."""
        return CircuitBreaker(self.failure_threshold, self.reset_after, self._clock)

    def allow(self) -> bool:
        """May a request go out now? In half-open, True only for the single probe."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if not self._timer_expired(self._opened_at):
                return False
            self._state = BreakerState.HALF_OPEN
            self._probe_started = self._clock()
            return True
        # half-open: one probe at a time, unless the last probe vanished without reporting
        if self._probe_started is None or self._timer_expired(self._probe_started):
            self._probe_started = self._clock()
            return True
        return False

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_started = None

    def record_failure(self) -> None:
        if self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._trip()
        elif self._state is BreakerState.HALF_OPEN:
            self._trip()
        # already open: a late failure of a request sent before it opened changes nothing

    def _trip(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._failures = 0
        self._probe_started = None

    def _timer_expired(self, since: float) -> bool:
        return self._clock() - since >= self.reset_after

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value!r}, failures={self._failures})"
