"""Queue order and wait estimates: pure functions, so they are easy to reason about and test.

Priority is measured in "minutes of waiting": every minute in the queue adds one point, the
reason adds a head start (a complaint or a furious subscriber jumps ahead of a routine
request) and so does negative sentiment, so nobody waits forever behind angrier people.
"""

from __future__ import annotations

import math

from bot.reasons import head_start

NEGATIVITY_WEIGHT = 0.75  # minutes per point of negative sentiment
MAX_NEGATIVITY = 8.0


def priority(*, reason: str, sentiment: float, waited_seconds: float) -> float:
    """Higher first. ``sentiment`` is the lowest score seen (negative = unhappy)."""
    negativity = min(max(-sentiment, 0.0), MAX_NEGATIVITY)
    return round(
        max(waited_seconds, 0.0) / 60.0
        + head_start(reason)
        + NEGATIVITY_WEIGHT * negativity,
        3,
    )


def estimate_wait_minutes(
    position: int,
    *,
    agents_online: int,
    active_conversations: int,
    concurrency: int,
    handle_minutes: float,
) -> int:
    """A realistic wait for the subscriber at ``position`` (1 = next), in whole minutes.

    Capacity is the agents working now (at least one: somebody is on shift 24/7) times the
    conversations each handles at once. Free slots take the first subscribers at once; the
    others wait for slots to free up, one ``handle_minutes`` per full round of the capacity.
    """
    capacity = max(agents_online, 1) * max(concurrency, 1)
    free = max(capacity - active_conversations, 0)
    if position <= free:
        return 1
    ahead = position - free
    return max(1, min(240, math.ceil(ahead * handle_minutes / capacity)))

