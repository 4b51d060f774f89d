"""Web chat sessions: a ``user_id`` belongs to the browser that first wrote as it.

The first message of a new ``user_id`` opens a session and hands its token out once (in the
answer and as an HttpOnly cookie); every later request for that ``user_id`` must present it.
Only the token's SHA-256 is stored (``channels/web/tables.py``), so a copy of the database
hands out no live session.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.messages import utcnow
from bot.storage import Database, Identity
from channels.web.channel import WEBCHAT
from channels.web.tables import WebChatSession

# last_seen_at is for housekeeping, not auditing: one write a minute per session is plenty,
# and a long-polling page must not turn every poll into a write.
SEEN_EVERY = timedelta(minutes=1)


class Access(enum.Enum):
    """What a request may do with a ``user_id``."""

    OWNER = "owner"  # the token is this user_id's session
    TAKEN = "taken"  # the user_id has a session and this is not its token
    FREE = "free"  # no session yet: the request may open one


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; everything stored is UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class WebChatSessions:
    """Opens and checks the web chat's browser sessions."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def open(self, user_id: str) -> str | None:
        """A new session for ``user_id``: its token, or None when the user_id is taken.

        Of two concurrent first requests for one user_id the primary key lets exactly one in.
        A user_id that wrote before sessions existed has no session but does have a history:
        it stays closed, or whoever guessed it first could read that history.
        """
        token = secrets.token_urlsafe(32)
        now = self._clock()
        try:  # Core statements on a plain connection: this runs for every new subscriber
            async with self._db.begin() as connection:
                known = await connection.scalar(
                    select(Identity.id).where(Identity.channel == WEBCHAT,
                                              Identity.channel_user_id == user_id)
                )
                if known is not None:
                    return None
                await connection.execute(insert(WebChatSession).values(
                    user_id=user_id, token_hash=token_hash(token), created_at=now,
                    last_seen_at=now,
                ))
        except IntegrityError:
            return None
        return token

    async def access(self, user_id: str, token: str | None) -> Access:
        """Whether ``token`` owns ``user_id``, the user_id belongs to someone else, or is free."""
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(
                select(WebChatSession.token_hash, WebChatSession.last_seen_at)
                .where(WebChatSession.user_id == user_id)
            )).first()
        if row is None:
            return Access.FREE
        stored_hash, last_seen = row
        if token is None or not hmac.compare_digest(stored_hash, token_hash(token)):
            return Access.TAKEN
        await self._seen(user_id, last_seen)
        return Access.OWNER

    async def check(self, user_id: str, token: str | None) -> bool:
        """True when ``token`` is the session of ``user_id``."""
        return await self.access(user_id, token) is Access.OWNER

    async def user_of(self, token: str) -> str | None:
        """The user_id whose session ``token`` is, or None."""
        wanted = token_hash(token)
        async with self._db.sessions() as session:
            row = (await session.execute(
                select(WebChatSession.user_id, WebChatSession.token_hash,
                       WebChatSession.last_seen_at)
                .where(WebChatSession.token_hash == wanted)
            )).first()
        if row is None or not hmac.compare_digest(row[1], wanted):
            return None
        await self._seen(row[0], row[2])
        return str(row[0])

    async def _seen(self, user_id: str, last_seen: datetime) -> None:
        now = self._clock()
        if now - _aware(last_seen) < SEEN_EVERY:
            return
        async with self._db.transaction() as session:
            # the condition keeps concurrent polls that all found it stale to one real change
            await session.execute(
                update(WebChatSession)
                .where(WebChatSession.user_id == user_id,
                       WebChatSession.last_seen_at < now - SEEN_EVERY)
                .values(last_seen_at=now)
            )
