"""Database tables (SQLAlchemy 2 declarative). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.messages import utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[object, object]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


def declared(name: str | None, type_: str, _parent: object = None) -> bool:
    """For Alembic's ``include_name``: leave out the tables and indexes a package made by hand
    in its migrations and listed in ``Base.metadata.info["undeclared"]`` (full-text indexes)."""
    return not (type_ in ("table", "index") and name in Base.metadata.info.get("undeclared", ()))


class ConversationState:
    BOT = "bot"
    WAITING_AGENT = "waiting_agent"
    WITH_AGENT = "with_agent"
    CLOSED = "closed"
    ALL = (BOT, WAITING_AGENT, WITH_AGENT, CLOSED)


class Customer(Base):
    """A person behind one or more identities: a number verified on two channels links both."""

    __tablename__ = "customers"
    __table_args__ = (Index("uq_customers_verified_phone", "verified_phone", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    verified_phone: Mapped[str | None] = mapped_column(String(32))  # E.164, one customer each
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """A subscriber as one channel knows them (a Telegram user, a web chat visitor, ...)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id", name="uq_identity_channel"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_user_id: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    verified_phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    verified_at: Mapped[datetime | None] = mapped_column()  # lasts VERIFICATION_TTL from here
    verified_via: Mapped[str | None] = mapped_column(String(16))  # "sms_code" | "contact"
    blocked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_identity_state", "identity_id", "state"),
        Index("ix_conversations_identity_thread", "identity_id", "thread_key"),
        Index("ix_conversations_updated", "updated_at"),  # the live monitor's recent ones
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=ConversationState.BOT)
    lang: Mapped[str | None] = mapped_column(String(8))
    misunderstandings: Mapped[int] = mapped_column(Integer, default=0)
    awaiting: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the channel's thread (an e-mail thread's root Message-ID); None for chats
    thread_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class Message(Base):
    """Every message of a conversation, both ways.

    An inbound message is unique per (identity, channel message id): a channel's delivery id
    only has to be unique for one sender (a web chat client numbers its own messages), and no
    string is ever built from two ids, so none can collide or outgrow the column. Outbound rows
    have no identity (NULLs never collide).
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("identity_id", "channel_message_id", name="uq_message_identity_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_unprocessed", "processed_at", "direction"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    sender: Mapped[str] = mapped_column(String(16))  # subscriber | bot | agent | system
    channel: Mapped[str] = mapped_column(String(32))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))  # inbound only
    channel_message_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    nlu: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column()
    lang: Mapped[str | None] = mapped_column(String(8))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    processed_at: Mapped[datetime | None] = mapped_column()
    # Failed processing passes of an inbound message; after the last allowed one it is marked
    # failed (and processed, so the conversation moves on) and handed to a person.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxItem(Base):
    """A reply waiting to be delivered; written in the same transaction as the reply itself."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index(
            "ix_outbox_pending_heads", "channel", "address", "id",
            postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class ChannelCursor(Base):
    """Where a channel's intake stands on a platform without acknowledgements (VK's long-poll
    ``ts``, a mailbox's last UID): written only after everything before it is stored."""

    __tablename__ = "channel_cursors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # "vk:long_poll:123"
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VerificationCode(Base):
    """A one-time code sent by SMS to prove a phone number (bot/verification.py).

    Only a salted hash of the code is kept. A code is live while ``used_at`` and ``dead_at`` are
    both empty and ``expires_at`` is ahead; it dies (``dead_at``) on expiry, after the last
    wrong try, when the SMS could not be sent or when a newer code replaces it.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))  # E.164
    code_hash: Mapped[str] = mapped_column(String(128))  # "scrypt$n$r$p$<hex>"
    salt: Mapped[str] = mapped_column(String(64))  # hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # wrong tries
    used_at: Mapped[datetime | None] = mapped_column()
    dead_at: Mapped[datetime | None] = mapped_column()


class VerificationEvent(Base):
    """The audit of verification: one row per request and per check, whatever the outcome.

    ``event``: requested, sent, send_failed, limited_number, limited_identity, not_a_code,
    wrong_code, expired, locked, verified, no_code, forgotten (bot.verification.Event).
    """

    __tablename__ = "verification_events"
    __table_args__ = (
        Index("ix_verification_events_identity_created", "identity_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164, when the event has one
    event: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitBucket(Base):
    """One token bucket of a rate limit shared by every app replica (bot/ratelimit/database.py).

    Times are epoch seconds on the database's clock, so replicas whose clocks disagree still
    agree on a bucket. A row whose bucket is full again (``full_at`` passed) means nothing and
    is pruned. Only PostgreSQL uses it; the table exists on SQLite too, empty.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "webchat:user:..."
    tokens: Mapped[float] = mapped_column(Double)
    capacity: Mapped[float] = mapped_column(Double)
    per_second: Mapped[float] = mapped_column(Double)
    updated: Mapped[float] = mapped_column(Double)
    full_at: Mapped[float] = mapped_column(Double, index=True)
