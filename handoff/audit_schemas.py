"""Bodies of the audit trail's routes: ``GET /api/desk/audit`` and a conversation's replay.
Field names are the API contract (the monitor page reads them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from handoff.schemas import UtcDateTime


class AuditEntryOut(BaseModel):
    id: int
    at: UtcDateTime
    agent: str | None = Field(None, description="the username; null for a failed login; "
                                                "cli / startup for the command line")
    action: str
    conversation_id: str | None = None
    handoff_id: int | None = None
    address: str | None = Field(None, description="the client address the action came from")
    details: dict[str, Any] | None = Field(None, description="ids and counts, never message "
                                                             "text")


class AuditPage(BaseModel):
    entries: list[AuditEntryOut] = Field(description="newest first")
    page: int
    page_size: int
    has_more: bool = Field(description="a next page exists")


class MessageEvent(BaseModel):
    kind: Literal["message"] = "message"
    at: UtcDateTime
    id: int
    direction: str = Field(description="in: from the subscriber; out: to the subscriber")
    sender: str = Field(description="subscriber | bot | agent | system")
    agent: str | None = Field(None, description="the username, for an agent's reply")
    text: str


class ActionEvent(BaseModel):
    """A desk action on the conversation. The replay names the agent, never an address (the
    audit route has that)."""

    kind: Literal["action"] = "action"
    at: UtcDateTime
    id: int = Field(description="the audit entry's id")
    agent: str | None = None
    action: str
    handoff_id: int | None = None
    details: dict[str, Any] | None = None


class SilenceEvent(BaseModel):
    """The subscriber waiting for a person's answer (handoff/silence.py)."""

    kind: Literal["silence"] = "silence"
    at: UtcDateTime = Field(description="when the silence started")
    end: UtcDateTime | None = Field(None, description="null: still waiting")
    seconds: float
    messages: int = Field(description="the subscriber's messages in the silence")
    ongoing: bool
    long: bool = Field(description="seconds >= silence_alert_seconds")
    handoff_id: int


ReplayEvent = Annotated[MessageEvent | ActionEvent | SilenceEvent, Field(discriminator="kind")]


class ReplayOut(BaseModel):
    conversation_id: str
    channel: str
    lang: str | None = None
    state: str = Field(description="bot | waiting_agent | with_agent | closed")
    silence_alert_seconds: int
    truncated: bool = Field(description="the conversation is longer than the replay holds: "
                                        "the events cover its latest part")
    events: list[ReplayEvent] = Field(description="messages, actions and silences by time")
