"""The e-mail channel's own table: every mail in and out, by Message-ID, with its thread.

Threads are found through it: a mail whose ``In-Reply-To`` or ``References`` names any mail we
know (the subscriber's or our reply) joins that mail's thread, even when the client kept only
part of the chain. Mail without either header falls back to the sender and the normalised
subject. It shares the core's declarative ``Base`` (one schema, one migration history).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.messages import utcnow
from bot.storage.tables import Base, BigId


class EmailRecord(Base):
    __tablename__ = "email_messages"
    __table_args__ = (
        Index("ix_email_messages_address_subject", "address", "subject_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    thread_key: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(320))  # the subscriber's address
    subject_key: Mapped[str] = mapped_column(String(255))  # normalised subject
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
