"""The web chat's own table: one browser session per ``user_id``.

Only a SHA-256 of each session token is stored (the token is 32 random bytes, so a fast hash is
enough: nobody can guess one, and a copy of the database hands out no live session). It shares
the core's declarative ``Base`` (one schema, one migration history: 0010).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.messages import utcnow
from bot.storage.tables import Base


class WebChatSession(Base):
    __tablename__ = "webchat_sessions"
    __table_args__ = (Index("uq_webchat_sessions_token_hash", "token_hash", unique=True),)

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the session token
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
