"""Bodies of the desk API (also what the desk page reads). Field names are the API contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

MAX_TEXT = 4000


def _clean(text: str) -> str:
    """Drop NUL and other control characters (PostgreSQL cannot store NUL); keep line breaks."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t")


class LoginIn(BaseModel):
    username: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=256)


class AgentOut(BaseModel):
    username: str
    role: str
    display_name: str | None = None


class TokenOut(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer TOKEN`")
    token_type: str = "bearer"
    expires_at: datetime
    agent: AgentOut


class SessionOut(BaseModel):
    agent: AgentOut
    expires_at: datetime | None = None


class TextIn(BaseModel):
    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = _clean(value)
        if not value.strip():
            raise ValueError("the text is empty")
        return value


class CloseIn(BaseModel):
    resolution: StrictStr = Field("", max_length=2000, description="what was done, for the record")

    @field_validator("resolution")
    @classmethod
    def _clean_resolution(cls, value: str) -> str:
        return _clean(value).strip()


class TranscriptEntry(BaseModel):
    id: int
    at: datetime
    direction: str = Field(description="in: from the subscriber; out: to the subscriber")
    sender: str = Field(description="subscriber | bot | agent")
    agent: str | None = None
    text: str
    intent: str | None = None
    confidence: float | None = None


class IntentSeen(BaseModel):
    message_id: int
    text: str | None
    intent: str | None
    confidence: float | None
    entities: dict[str, str] = {}
    ranking: list[dict[str, Any]] = []


class IdentityOut(BaseModel):
    channel_user_id: str | None = None
    display_name: str | None = None
    verified_phone: str | None = None


class SentimentOut(BaseModel):
    score: float = 0.0
    label: str = "neutral"
    cues: list[str] = []


class ContextCard(BaseModel):
    """What the bot learned: the agent should not need to ask again."""

    channel: str
    lang: str
    identity: IdentityOut
    reason: str
    topic: str | None = None
    summary: str
    intents: list[IntentSeen]
    entities: dict[str, str]
    sentiment: SentimentOut
    escalated_at: datetime
    transcript: list[TranscriptEntry]


class QueueItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    conversation_id: str
    handoff_id: int
    status: str = Field(description="waiting | active | closed | cancelled | returned")
    reason: str
    priority: float = Field(description="minutes of waiting plus head starts; higher first")
    position: int | None = Field(None, description="place in the queue while waiting (1 = next)")
    waiting_seconds: float = Field(description="since escalation")
    created_at: datetime
    claimed_at: datetime | None = None
    first_reply_at: datetime | None = None
    last_subscriber_at: datetime | None = None
    last_agent_at: datetime | None = None
    agent: str | None = Field(None, description="username of the agent who claimed it")
    summary: str
    card: ContextCard


class QueueOut(BaseModel):
    waiting: list[QueueItem]
    active: list[QueueItem]
    generated_at: datetime


class NoteOut(BaseModel):
    id: int
    agent: str
    text: str
    at: datetime


class ConversationOut(QueueItem):
    state: str = Field(description="the conversation: bot | waiting_agent | with_agent | closed")
    resolution: str | None = None
    ended_at: datetime | None = None
    rating: int | None = None
    wait_seconds: float | None = Field(None, description="escalation to the first agent reply")
    notes: list[NoteOut]


class ActionOut(BaseModel):
    conversation_id: str
    handoff_id: int
    status: str
    state: str


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    text: str
    at: datetime


class PeriodStats(BaseModel):
    since: datetime
    handoffs: int
    answered: int = Field(description="got a first agent reply")
    answered_within_target: int
    share_answered_within_target: float | None = Field(
        description="of the handoffs whose outcome is known (see README), 0..1"
    )
    median_wait_seconds: float | None
    p90_wait_seconds: float | None
    abandoned: int = Field(description="cancelled by the subscriber or ended with no agent reply")
    csat_average: float | None
    csat_count: int


class StatsOut(BaseModel):
    target_seconds: int
    timezone: str
    today: PeriodStats
    last_7_days: PeriodStats
    waiting_now: int
    active_now: int
    agents_online: int
