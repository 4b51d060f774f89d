"""Failed logins are throttled per username and per client address."""

from __future__ import annotations

import pytest

from handoff.errors import RateLimited
from handoff.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_username_is_blocked_after_too_many_failures_then_released() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        limiter.check("anna", "10.0.0.1")
        limiter.failed("anna", "10.0.0.1")
    with pytest.raises(RateLimited) as blocked:
        limiter.check("Anna", "10.0.0.2")  # same user from elsewhere, any case
    assert 0 < blocked.value.retry_after <= 60
    limiter.check("boris", "10.0.0.2")  # other users are not affected
    clock.now += 61
    limiter.check("anna", "10.0.0.1")


def test_one_address_trying_many_usernames_is_blocked() -> None:
    limiter = LoginLimiter(max_failures=2, window_seconds=60, per_address_factor=2,
                           clock=Clock())
    for name in ("a1", "a2", "a3", "a4"):
        limiter.failed(name, "10.0.0.9")
    with pytest.raises(RateLimited):
        limiter.check("someone-new", "10.0.0.9")


def test_success_clears_the_username() -> None:
    limiter = LoginLimiter(max_failures=2, window_seconds=60, clock=Clock())
    limiter.failed("anna", "10.0.0.1")
    limiter.succeeded("anna")
    limiter.failed("anna", "10.0.0.1")
    limiter.check("anna", "10.0.0.1")
