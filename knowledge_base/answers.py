"""What ``KnowledgeBase.answer`` returns: a rendered answer in the subscriber's language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerButton:
    """A button, already localised; ``payload`` is Rasa style: ``/intent{"entity": "value"}``."""

    title: str
    payload: str


@dataclass(frozen=True)
class Answer:
    """A knowledge-base answer.

    ``needs_agent``: the topic needs a person (escalate after sending). ``asks``: the entity the
    answer asks the subscriber for (e.g. ``"country"``), None when it asks nothing.
    ``source``: ``"seed"`` (facts to keep) or ``"example"`` (demo data an operator replaces).
    """

    article_id: str
    text: str
    buttons: tuple[AnswerButton, ...]
    needs_agent: bool
    asks: str | None
    source: str
