"""Priority, wait estimates, ratings and cancel words: the pure rules of the queue."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from handoff.desk_hooks import is_cancel, parse_rating, rating_buttons
from handoff.priority import estimate_wait_minutes, priority
from handoff.stats import percentile


def test_priority_rises_with_waiting_time_and_negativity() -> None:
    calm = priority(reason="subscriber_request", sentiment=0, waited_seconds=60)
    longer = priority(reason="subscriber_request", sentiment=0, waited_seconds=240)
    angry = priority(reason="negative_sentiment", sentiment=-7, waited_seconds=60)
    assert calm < longer
    assert calm < angry
    # an angry newcomer does not overtake someone who has waited a long time
    assert priority(reason="subscriber_request", sentiment=0, waited_seconds=20 * 60) > angry


def test_wait_estimate_uses_free_capacity_then_handle_time() -> None:
    kwargs = {"agents_online": 2, "concurrency": 2, "handle_minutes": 6.0}
    assert estimate_wait_minutes(1, active_conversations=0, **kwargs) == 1
    assert estimate_wait_minutes(4, active_conversations=0, **kwargs) == 1
    # all four slots busy: the first in line waits for a slot, 6 min / 4 slots
    assert estimate_wait_minutes(1, active_conversations=4, **kwargs) == 2
    assert estimate_wait_minutes(8, active_conversations=4, **kwargs) == 12
    # nobody online: estimated as one agent on shift
    assert estimate_wait_minutes(3, agents_online=0, active_conversations=2, concurrency=2,
                                 handle_minutes=6.0) == 9
    assert estimate_wait_minutes(10_000, active_conversations=4, **kwargs) == 240


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("5", None, 5),
        (" 4 ", None, 4),
        ("5/5", None, 5),
        ("оценка 3", None, 3),
        ("1!", None, 1),
        ("⭐⭐⭐⭐", None, 4),
        ("", '/rating{"score": "2"}', 2),
        ("7", None, -1),
        ("0", None, -1),
        ("какой у меня баланс", None, None),
        ("100 рублей списали", None, None),
        ("", "/check_balance", None),
    ],
)
def test_parse_rating(text: str, payload: str | None, expected: int | None) -> None:
    assert parse_rating(text, payload) == expected


def test_rating_buttons_carry_their_score() -> None:
    buttons = rating_buttons()
    assert [b.title for b in buttons] == ["1", "2", "3", "4", "5"]
    assert all(parse_rating("", b.payload) == int(b.title) for b in buttons)


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("отмена", None, True),
        ("Отмена!", None, True),
        ("cancel", None, True),
        ("Адмена", None, True),
        ("не надо", None, True),
        ("", "/cancel", True),
        ("/cancel", None, True),
        ("отмена роуминга", None, False),
        ("cancel my roaming please", None, False),
    ],
)
def test_cancel_words(text: str, payload: str | None, expected: bool) -> None:
    message = SimpleNamespace(text=text, payload=payload)
    assert is_cancel(message) is expected  # type: ignore[arg-type]


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([10], 90) == 10
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 90) == 9.1
