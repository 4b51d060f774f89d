"""Fair order for a batch of updates: senders take turns, each sender's own stay in order."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def taking_turns(items: Sequence[T], sender: Callable[[T], Hashable]) -> list[T]:
    """The batch reordered: the first item of every sender, then the second... One chat's
    flood of 100 updates then does not hold up the one message of everybody else."""
    queues: dict[Hashable, list[T]] = {}
    for item in items:
        queues.setdefault(sender(item), []).append(item)
    turns: list[T] = []
    for depth in range(max((len(q) for q in queues.values()), default=0)):
        turns += [queue[depth] for queue in queues.values() if depth < len(queue)]
    return turns
