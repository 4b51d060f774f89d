"""Bodies of the desk API (also what the desk page reads). Field names are the API contract.

Every time is UTC with its offset (``2026-11-30T08:00:00Z``): SQLite hands datetimes back
without a zone, PostgreSQL with one, and the API must not show the difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, field_validator

MAX_TEXT = 4000


def _utc(value: datetime) -> datetime:
    """A naive datetime is UTC (how the app stores every time); an aware one is converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


def _clean(text: str) -> str:
    """Drop NUL and other control characters (PostgreSQL cannot store NUL); keep line breaks."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t")


class LoginIn(BaseModel):
    username: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: StrictStr = Field(min_length=1, max_length=256)


class AgentOut(BaseModel):
    username: str
    role: str
    display_name: str | None = None


class TokenOut(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer TOKEN`")
    token_type: str = "bearer"
    expires_at: UtcDateTime
    agent: AgentOut


class SessionOut(BaseModel):
    agent: AgentOut
    expires_at: UtcDateTime | None = None


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


class MessageLine(BaseModel):
    """One message as the desk shows it (the monitor's last lines)."""

    id: int
    at: UtcDateTime
    direction: str = Field(description="in: from the subscriber; out: to the subscriber")
    sender: str = Field(description="subscriber | bot | agent")
    agent: str | None = None
    text: str


class TranscriptEntry(MessageLine):
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
    """The subscriber on this channel, as they are now. Never the channel's own user id."""

    alias: str = Field("", description="4 hex characters naming the identity (stable, "
                                        "unrelated to the channel's user id)")
    display_name: str | None = Field(None, description="the name the channel gave, if any")
    verified: bool = Field(False, description="a phone number is proven now")
    verified_phone: str | None = Field(None, description="while verified, readable: "
                                                         "'+375 29 123-45-67'")
    verified_via: str | None = Field(None, description="sms_code | contact (Telegram)")
    verified_at: UtcDateTime | None = None


class OtherIdentityOut(BaseModel):
    """Another channel (identity) of the same customer."""

    channel: str
    alias: str
    display_name: str | None = None
    verified: bool
    verified_via: str | None = None


class RecentConversationOut(BaseModel):
    """One of the customer's latest other conversations, on any of their identities."""

    conversation_id: str
    channel: str
    started_at: UtcDateTime
    state: str = Field(description="bot | waiting_agent | with_agent | closed")
    topic: str | None = Field(None, description="the intent it was about, if one was understood")
    topic_label: str | None = Field(None, description="the topic's label in the card's language")
    had_handoff: bool
    can_open: bool = Field(description="it had a handoff this agent may open in the desk")


class SentimentOut(BaseModel):
    score: float = 0.0
    label: str = "neutral"
    cues: list[str] = []


class CardSummary(BaseModel):
    """What the bot learned: the agent should not need to ask again (the queue shows this;
    the conversation view adds the transcript)."""

    channel: str
    lang: str
    identity: IdentityOut
    reason: str
    topic: str | None = None
    summary: str
    intents: list[IntentSeen]
    entities: dict[str, str]
    sentiment: SentimentOut
    escalated_at: UtcDateTime


class ContextCard(CardSummary):
    transcript: list[TranscriptEntry]
    other_identities: list[OtherIdentityOut] = Field(
        default_factory=list, description="the customer's other channels, read live"
    )
    recent_conversations: list[RecentConversationOut] = Field(
        default_factory=list,
        description="the customer's latest other conversations (newest first, at most 5)",
    )


class QueueItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    conversation_id: str
    handoff_id: int
    status: str = Field(description="waiting | active | closed | cancelled | returned")
    reason: str
    priority: float = Field(description="minutes of waiting plus head starts; higher first")
    position: int | None = Field(None, description="place in the queue while waiting (1 = next)")
    waiting_seconds: float = Field(description="since escalation")
    created_at: UtcDateTime
    claimed_at: UtcDateTime | None = None
    first_reply_at: UtcDateTime | None = None
    last_subscriber_at: UtcDateTime | None = None
    last_agent_at: UtcDateTime | None = None
    agent: str | None = Field(None, description="username of the agent who claimed it")
    supervisor: str | None = Field(None, description="username of a supervisor who joined")
    skill: str | None = Field(None, description="the skill this handoff needs (skills-based "
                                               "routing); none: anyone")
    matches_skills: bool = Field(True, description="whether the viewing agent has that skill "
                                                   "(or it is offered to everyone by now)")
    summary: str
    card: CardSummary = Field(description="the context card without the transcript")


class QueueOut(BaseModel):
    waiting: list[QueueItem]
    active: list[QueueItem]
    generated_at: UtcDateTime


class NoteOut(BaseModel):
    id: int
    agent: str
    text: str
    at: UtcDateTime
    kind: str = Field("note", description="note (for colleagues) | whisper (a supervisor's "
                                          "word to the agent); never shown to the subscriber")


class ConversationOut(QueueItem):
    card: ContextCard  # the full card, transcript included
    state: str = Field(description="the conversation: bot | waiting_agent | with_agent | closed")
    resolution: str | None = None
    ended_at: UtcDateTime | None = None
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
    at: UtcDateTime


class PeriodStats(BaseModel):
    since: UtcDateTime
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
