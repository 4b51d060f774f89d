"""Why a conversation was handed to a person: the one list, with each reason's head start in the
agents' queue (in minutes of waiting: see ``handoff/priority.py``).

Adding a reason is one member here; the value is stored on the conversation and the handoff.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Reason(StrEnum):
    head_start: float

    def __new__(cls, value: str, head_start: float) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.head_start = head_start
        return member

    SUBSCRIBER_REQUEST = ("subscriber_request", 0.0)
    NOT_UNDERSTOOD = ("not_understood_twice", 1.0)
    NLU_UNAVAILABLE = ("nlu_unavailable", 0.0)
    NEEDS_AGENT = ("topic_needs_agent", 1.0)
    PROCESSING_FAILED = ("processing_failed", 1.0)  # a message failed processing repeatedly
    COMPLAINT = ("complaint", 2.0)  # set by the handoff when the topic is a complaint
    NEGATIVE_SENTIMENT = ("negative_sentiment", 3.0)  # ... or the subscriber is furious
    SUPERVISOR_JOINED = ("supervisor_joined", 0.0)  # a supervisor joined a bot's conversation


def head_start(reason: str) -> float:
    """The queue head start of a stored reason (0 for one this version does not know)."""
    member = _BY_VALUE.get(reason)
    return member.head_start if member is not None else 0.0


_BY_VALUE: dict[str, Reason] = {member.value: member for member in Reason}
