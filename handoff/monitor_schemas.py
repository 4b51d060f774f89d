"""Bodies of the live monitor's routes (``/api/desk/monitor...``, ``/api/desk/alerts``). Field
names are the API contract the monitor page reads; every time is UTC with its offset."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from handoff.schemas import MessageLine, TranscriptEntry, UtcDateTime

RowState = Literal["bot", "waiting", "with_agent"]
AlertKind = Literal["silence", "sla", "unanswered_messages"]
Direction = Literal["falling", "rising", "steady"]


class SentimentTrend(BaseModel):
    trend: list[float] = Field(
        description="scores of the subscriber's latest messages (up to 5), oldest first"
    )
    latest: float | None = Field(None, description="the latest message's score")
    label: str = Field(description="strongly_negative | negative | neutral | positive")
    direction: Direction = Field(
        description="falling / rising: the latest is 1 point or more below / above the first"
    )


LastLine = MessageLine


class Alert(BaseModel):
    id: str = Field(description="the same for the same alert on every read (kind, handoff, "
                                "and for silences their start)")
    kind: AlertKind
    conversation_id: str
    handoff_id: int
    channel: str
    agent: str | None = Field(None, description="username of the agent who owns it")
    since: UtcDateTime
    seconds: float
    messages: int = Field(description="the subscriber's messages in the ongoing silence")


class MonitorRow(BaseModel):
    conversation_id: str
    handoff_id: int | None = None
    channel: str
    lang: str | None = None
    state: RowState
    agent: str | None = Field(None, description="username of the owner")
    supervisor: str | None = Field(None, description="username of a supervisor who joined")
    started_at: UtcDateTime
    last_message_at: UtcDateTime | None = None
    waiting_seconds: float | None = Field(
        None, description="waiting: escalation to now; with_agent: escalation to claim; bot: null"
    )
    sla_breached: bool = Field(description="waiting longer than the target")
    unanswered_seconds: float | None = Field(
        None, description="the ongoing silence: how long the subscriber has waited for a person"
    )
    unanswered_messages: int = Field(description="the subscriber's messages in that silence")
    sentiment: SentimentTrend
    last_lines: list[LastLine] = Field(description="the latest 3 messages, oldest first")
    risk: float = Field(description="higher first; see handoff/monitor.py `risk`")
    alerts: list[AlertKind]


class MonitorOut(BaseModel):
    generated_at: UtcDateTime
    silence_alert_seconds: int
    target_seconds: int
    conversations: list[MonitorRow] = Field(description="sorted by risk, highest first")
    alerts: list[Alert] = Field(
        description="every current alert, whatever the filters (an alert is never hidden)"
    )


class AlertsOut(BaseModel):
    generated_at: UtcDateTime
    alerts: list[Alert]


class MonitorIdentity(BaseModel):
    """Who the subscriber is, without any phone number (the monitor is read-only)."""

    alias: str
    display_name: str | None = None
    verified: bool


class MonitorNote(BaseModel):
    id: int
    agent: str
    text: str
    at: UtcDateTime
    kind: str = Field(description="note | whisper")


class ReadOnlyConversation(BaseModel):
    conversation_id: str
    channel: str
    lang: str | None = None
    state: str = Field(description="the conversation: bot | waiting_agent | with_agent | closed")
    handoff_id: int | None = None
    status: str | None = Field(None, description="the latest handoff's status, if any")
    agent: str | None = None
    supervisor: str | None = None
    identity: MonitorIdentity
    transcript: list[TranscriptEntry] = Field(description="the latest 200 messages, oldest first")
    notes: list[MonitorNote]
