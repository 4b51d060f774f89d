"""The search's request (filters) and its answer (the body of ``GET /api/desk/search``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from handoff.schemas import UtcDateTime

MAX_QUERY = 200
MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000  # deeper than anyone reads; keeps OFFSET bounded


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for. ``q`` None: no text, only filters (one result per conversation).

    ``start`` and ``end`` are UTC instants: messages at ``start`` or later and before ``end``.
    """

    q: str | None = None
    channel: str | None = None
    agent: str | None = None  # username of the agent of one of the conversation's handoffs
    intent: str | None = None  # one of the conversation's messages had it
    start: datetime | None = None
    end: datetime | None = None
    silence_over: float | None = None  # a handoff's longest silence was longer (seconds)
    page: int = 1
    page_size: int = 20

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (self.channel, self.agent, self.intent, self.start,
                                           self.end, self.silence_over))


class SegmentOut(BaseModel):
    text: str = Field(description="plain text (never markup): set it as text")
    hit: bool = Field(description="a word that matched the query")


class SearchResult(BaseModel):
    conversation_id: str
    message_id: int
    at: UtcDateTime
    channel: str
    direction: str = Field(description="in: from the subscriber; out: to the subscriber")
    sender: str = Field(description="subscriber | bot | agent | system")
    agent: str | None = Field(None, description="who wrote this reply (an agent's message), "
                                                "else the agent of the conversation's latest "
                                                "handoff that had one")
    intent: str | None = None
    snippet: list[SegmentOut] = Field(
        description="about 160 characters of the message around its first hit; an '…' "
                    "segment marks each cut end")


class SearchOut(BaseModel):
    results: list[SearchResult]
    page: int
    page_size: int
    has_more: bool
