"""Handoff tables: agents and their login sessions, handoffs (one per escalation) and notes.

They share the core's declarative ``Base`` so foreign keys reach ``conversations``; the
schema comes from the Alembic migrations ``0002_handoff`` and ``0004_handoff_client_address``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
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
