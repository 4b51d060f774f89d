"""The desk's audit trail: every action of an agent or supervisor, appended, never changed.

An action and its entry commit together: the desk adds the entry inside the action's own
transaction (:meth:`AuditTrail.add`); actions without one (a login, a read) get their own
(:meth:`AuditTrail.record`). Entries say who, what, when, which conversation and from which
address; ``details`` holds ids and counts, never message text (the transcript has that).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Database
from handoff.tables import AuditEntry

if TYPE_CHECKING:  # handoff.auth records account changes here
    from handoff.auth import AgentInfo

class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    OPEN = "open"  # a conversation opened in the desk (or read-only on the monitor)
    VIEW_PERSONAL_DATA = "view_personal_data"  # ... showing a verified subscriber's number
    CLAIM = "claim"
    REPLY = "reply"
    NOTE = "note"
    CLOSE = "close"
    RETURN_TO_BOT = "return_to_bot"
    JOIN = "join"
    WHISPER = "whisper"
    TAKE_OVER = "take_over"
    SEARCH = "search"
    ACCOUNT_CREATE = "account_create"
    ACCOUNT_PASSWORD = "account_password"
    ACCOUNT_DISABLE = "account_disable"
    ACCOUNT_ENABLE = "account_enable"
    ACCOUNT_SKILLS = "account_skills"
    SCHEDULE_PUBLISH = "schedule_publish"  # a week's shifts built and stored (workforce)
    SWAP_OFFER = "swap_offer"
    SWAP_ACCEPT = "swap_accept"
    SWAP_APPROVE = "swap_approve"  # by a supervisor, or automatically (details say which)
    SWAP_REFUSE = "swap_refuse"
    SWAP_CANCEL = "swap_cancel"
    TIME_OFF_REQUEST = "time_off_request"
    TIME_OFF_APPROVE = "time_off_approve"
    TIME_OFF_REFUSE = "time_off_refuse"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted and from where. ``agent`` is None for the command line and start-up
    (``username`` then says which: ``cli``, ``startup``) and for a failed login."""

    agent: AgentInfo | None
    address: str | None = None
    username: str | None = None

    @classmethod
    def of(cls, agent: AgentInfo, address: str | None = None) -> Actor:
        return cls(agent, address, agent.username)


VIEW_EVERY = 600.0  # seconds: a page refreshing a conversation is one "open", not hundreds

CLI = Actor(None, None, "cli")
STARTUP = Actor(None, None, "startup")


def entry(
    actor: Actor,
    action: AuditAction,
    *,
    conversation_id: str | None = None,
    handoff_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=utcnow(),
        agent_id=actor.agent.id if actor.agent else None,
        username=(actor.username or (actor.agent.username if actor.agent else None)),
        action=str(action),
        conversation_id=conversation_id,
        handoff_id=handoff_id,
        address=(actor.address or "")[:64] or None,
        details=details or None,
    )


class AuditTrail:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._viewed: dict[tuple[object, ...], float] = {}

    @staticmethod
    def add(session: AsyncSession, actor: Actor, action: AuditAction, **fields: Any) -> None:
        """Inside the action's transaction: the entry commits (or rolls back) with it."""
        session.add(entry(actor, action, **fields))

    async def record(self, actor: Actor, action: AuditAction, **fields: Any) -> None:
        """In a transaction of its own, for actions that change nothing else."""
        async with self._db.transaction() as session:
            session.add(entry(actor, action, **fields))

    async def record_view(
        self, actor: Actor, action: AuditAction, *, conversation_id: str, **fields: Any
    ) -> None:
        """A read (opening a conversation, seeing a verified number): recorded once per agent,
        action and conversation every ``VIEW_EVERY`` seconds in this process, because the
        desk and the monitor re-read an open conversation on every live update."""
        now = self._clock()
        key = (actor.agent.id if actor.agent else actor.username, action, conversation_id,
               repr(sorted((fields.get("details") or {}).items())))
        if now - self._viewed.get(key, -VIEW_EVERY) < VIEW_EVERY:
            return
        if len(self._viewed) > 50_000:  # a long-running process forgets old views
            self._viewed = {k: t for k, t in self._viewed.items() if now - t < VIEW_EVERY}
        await self.record(actor, action, conversation_id=conversation_id, **fields)
        self._viewed[key] = now

