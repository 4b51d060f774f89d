from __future__ import annotations

from nlu import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=threshold, reset_after=30.0, clock=clock)
    for _ in range(threshold):
        assert breaker.allow()
        breaker.record_failure()
    return breaker


def test_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_in() == 30.0


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.failures == 1


def test_stays_open_until_reset_after() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 29.9
    assert not breaker.allow() and breaker.state == "open"
    clock.now += 0.1
    assert breaker.state == "half-open"


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.allow()
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(10))


def test_failed_probe_reopens_for_another_period() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_vanished_probe_is_replaced_after_reset_after() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.allow()  # this probe never reports back
    clock.now += 10
    assert not breaker.allow()
    clock.now += 20
    assert breaker.allow()


def test_late_failures_while_open_do_not_extend_it() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 20
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
