"""Handoff tables: agents and their login sessions, handoffs (one per escalation) and notes.

They share the core's declarative ``Base`` so foreign keys reach ``conversations``; the
schema comes from the Alembic migrations ``0002_handoff`` and ``0004_handoff_client_address``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.messages import utcnow
from bot.storage.tables import Base, BigId

# what migration 0012 makes outside the declared metadata for transcript search (SQLite's FTS5
# table and its shadow tables, PostgreSQL's GIN expression index): schema comparisons leave
# them alone (bot/storage/tables.py)
Base.metadata.info.setdefault("undeclared", set()).update({
    "messages_fts", *(f"messages_fts_{part}" for part in ("data", "idx", "content", "docsize",
                                                          "config")),
    "ix_messages_text_fts",
})


class Role:
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ALL = (AGENT, SUPERVISOR)


class HandoffStatus:
    WAITING = "waiting"  # in the queue, nobody has claimed it
    ACTIVE = "active"  # an agent owns it
    CLOSED = "closed"  # an agent closed it; the bot asked for a rating
    CANCELLED = "cancelled"  # the subscriber cancelled while waiting
    RETURNED = "returned"  # an agent handed the conversation back to the bot
    OPEN = (WAITING, ACTIVE)
    ENDED = (CLOSED, CANCELLED, RETURNED)


class Agent(Base):
    """A person who works in the desk; ``role`` is ``agent`` or ``supervisor``."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default=Role.AGENT)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    # skills-based routing (handoff/routing.py): e.g. ["technical", "general"]; None = none set
    skills: Mapped[list[str] | None] = mapped_column(JSON)


class AgentSession(Base):
    """A login: the page's cookie or an API bearer token. Only the token's SHA-256 is stored."""

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "cookie" | "bearer"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Handoff(Base):
    """One escalation of a conversation to a person, from the queue to the rating.

    ``wait_seconds`` is the service-level figure: escalation to the first agent reply.
    ``sentiment`` is the lowest sentiment score of the subscriber's messages (priority).
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_created", "status", "created_at"),
        Index("ix_handoffs_conversation", "conversation_id", "id"),
        Index("ix_handoffs_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.WAITING)
    reason: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sentiment: Mapped[float] = mapped_column(Float, default=0.0)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    first_reply_at: Mapped[datetime | None] = mapped_column()
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    last_subscriber_at: Mapped[datetime | None] = mapped_column()
    last_agent_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column()
    # where an anonymous (web chat) subscriber wrote from: caps open handoffs per address.
    # Abuse control only: never shown on the card or in the desk API.
    client_address: Mapped[str | None] = mapped_column(String(64), index=True)
    # a supervisor who joined the agent's conversation (their replies reach the subscriber too)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # the longest the subscriber waited for a person's answer, over the silences that ended
    # (handoff/silence.py); searchable as "silence longer than N seconds"
    longest_silence_seconds: Mapped[float | None] = mapped_column(Float)
    # the skill this handoff needs (handoff/data/skills.yml), set at escalation; None = anyone
    skill: Mapped[str | None] = mapped_column(String(32))


class NoteKind:
    NOTE = "note"  # for colleagues
    WHISPER = "whisper"  # a supervisor's word to the agent, shown live
    ALL = (NOTE, WHISPER)


class HandoffNote(Base):
    """An internal note on a handoff, or a supervisor's whisper to the agent: agents see it,
    the subscriber never does."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default=NoteKind.NOTE, server_default="note")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One desk action, appended and never changed: who, what, when, which conversation, from
    which address. The app has no code path that updates or deletes a row, and the database
    refuses to (triggers from migration 0012), so not even a slip can rewrite history.

    ``agent_id`` has no foreign key and ``username`` is copied, so the trail outlives accounts.
    """

    __tablename__ = "desk_audit"
    __table_args__ = (
        Index("ix_desk_audit_conversation", "conversation_id", "id"),
        Index("ix_desk_audit_agent", "agent_id", "id"),
        Index("ix_desk_audit_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(BigId)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(32))
    handoff_id: Mapped[int | None] = mapped_column(BigId)
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AssistEvent(Base):
    """Agent assist: an article the desk suggested for a handoff, and whether the agent
    inserted it into a reply (``action``: suggested | inserted | sent)."""

    __tablename__ = "assist_events"
    __table_args__ = (
        Index("ix_assist_events_handoff", "handoff_id", "id"),
        Index("ix_assist_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    agent_id: Mapped[int | None] = mapped_column(BigId)
    article: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))


class GoodwillOutcome:
    PENDING = "pending"  # granted by the policy; the billing has not confirmed yet (retried)
    GRANTED = "granted"  # the billing confirmed; the subscriber was told
    REFUSED = "refused"  # a rule of handoff/data/goodwill.yml said no (``rule`` names it)
    ALL = (PENDING, GRANTED, REFUSED)


class GoodwillDecision(Base):
    """The goodwill decision on one handoff that waited too long (at most one per handoff):
    granted (pending until the billing confirms) or refused, and by which rule.

    ``msisdn`` is the verified number the bonus went to (personal data: never logged, never in
    an API answer); ``idempotency_key`` makes a grant repeated after a crash one bonus."""

    __tablename__ = "goodwill_decisions"
    __table_args__ = (
        UniqueConstraint("handoff_id", name="uq_goodwill_decisions_handoff"),
        Index("ix_goodwill_decisions_decided", "decided_at"),
        Index("ix_goodwill_decisions_customer", "customer_id", "decided_at"),
        Index("ix_goodwill_decisions_outcome", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    msisdn: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    wait_seconds: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(32))  # the refusing rule; None when granted
    kind: Mapped[str | None] = mapped_column(String(32))  # "traffic_mb"
    amount: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[str | None] = mapped_column(String(32))  # decimal as text, in ``currency``
    currency: Mapped[str | None] = mapped_column(String(3))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))  # an exception class, no data
    granted_at: Mapped[datetime | None] = mapped_column()
    used: Mapped[bool | None] = mapped_column(Boolean)  # the billing's flag, refreshed daily
    used_checked_at: Mapped[datetime | None] = mapped_column()


class WorkforcePlan(Base):
    """A week's plan: per 30-minute interval the forecast contacts and the agents required
    (Erlang C), with the parameters it was made with."""

    __tablename__ = "workforce_plans"

    week: Mapped[date] = mapped_column(Date, primary_key=True)  # the Monday (DESK_TIMEZONE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigId)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    intervals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ShiftStatus:
    SCHEDULED = "scheduled"
    SWAPPED = "swapped"  # given to another agent by an approved swap (a new row holds it)
    OFF = "off"  # the agent's approved time off covers it
    ALL = (SCHEDULED, SWAPPED, OFF)


class WorkforceShift(Base):
    """One agent's shift (from handoff/data/shifts.yml) on one day of a planned week."""

    __tablename__ = "workforce_shifts"
    __table_args__ = (
        Index("ix_workforce_shifts_week", "week", "starts_at"),
        Index("ix_workforce_shifts_agent", "agent_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    week: Mapped[date] = mapped_column(Date)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    shift: Mapped[str] = mapped_column(String(32))  # its name in shifts.yml
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    breaks: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [[start, end], ...] ISO
    status: Mapped[str] = mapped_column(String(16), default=ShiftStatus.SCHEDULED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SwapStatus:
    OFFERED = "offered"  # an agent offered the shift; nobody took it yet
    ACCEPTED = "accepted"  # a colleague took it; a supervisor must approve
    APPROVED = "approved"  # done: the shift is the colleague's
    REFUSED = "refused"
    CANCELLED = "cancelled"  # the offering agent withdrew it
    OPEN = (OFFERED, ACCEPTED)
    ALL = (OFFERED, ACCEPTED, APPROVED, REFUSED, CANCELLED)


class ShiftSwap(Base):
    __tablename__ = "workforce_swaps"
    __table_args__ = (Index("ix_workforce_swaps_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("workforce_shifts.id"))
    offered_by: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # the accepting agent's shift the offering agent takes in return (a two-way swap); None:
    # a one-way hand-over
    give_shift_id: Mapped[int | None] = mapped_column(ForeignKey("workforce_shifts.id"))
    status: Mapped[str] = mapped_column(String(16), default=SwapStatus.OFFERED)
    coverage_ok: Mapped[bool | None] = mapped_column(Boolean)  # after the swap, as checked
    decided_by: Mapped[int | None] = mapped_column(BigId)  # None with APPROVED: automatic
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class TimeOffStatus:
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    ALL = (REQUESTED, APPROVED, REFUSED)


class TimeOffRequest(Base):
    __tablename__ = "workforce_time_off"
    __table_args__ = (Index("ix_workforce_time_off_agent", "agent_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=TimeOffStatus.REQUESTED)
    decided_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
