"""Agent accounts and logins: argon2 password hashes, opaque session tokens.

A login opens a session: a random token handed out once (the page gets it as an HttpOnly
cookie, an API client as a bearer token); only its SHA-256 is stored, so a database leak
does not leak working sessions. Password checks run in a thread (argon2 is deliberately slow),
a few at a time (:class:`~handoff.login_throttle.PasswordGate`), and take the same time whether or
not the username exists. A disabled agent (``active`` false) cannot log in and has no sessions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.messages import utcnow
from bot.storage import Database, affected_rows
from handoff.audit import CLI, STARTUP, Actor, AuditAction, AuditTrail
from handoff.errors import AccountExists, InvalidCredentials, NotFound
from handoff.login_throttle import PasswordGate
from handoff.tables import Agent, AgentSession, Role
from handoff.timeutil import aware

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")
MIN_PASSWORD = 8
_SEEN_EVERY = timedelta(seconds=30)  # how often last_seen_at is written


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """Who is logged in."""

    id: int
    username: str
    role: str
    display_name: str | None = None

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def name(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    expires_at: datetime
    agent: AgentInfo


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(agent: Agent) -> AgentInfo:
    return AgentInfo(agent.id, agent.username, agent.role, agent.display_name)


def check_new_account(username: str, password: str, role: str) -> None:
    if not USERNAME.match(username):
        raise ValueError("username: 2-64 letters, digits, '.', '_', '-' or '@'")
    if role not in Role.ALL:
        raise ValueError(f"role must be one of: {', '.join(Role.ALL)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")


class Accounts:
    def __init__(
        self,
        db: Database,
        *,
        session_ttl: timedelta,
        hasher: PasswordHasher | None = None,
        gate: PasswordGate | None = None,
        audit: AuditTrail | None = None,
        operator: Actor = CLI,
    ) -> None:
        """Account changes go to the desk's audit trail (``audit``, one on ``db`` if none),
        made by ``operator`` unless a call names its actor."""
        self._db = db
        self._audit = audit or AuditTrail(db)
        self._operator = operator
        self._ttl = session_ttl
        self._hasher = hasher or PasswordHasher()
        self._gate = gate or PasswordGate(4)
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    async def _hash(self, password: str) -> str:
        return await self._gate.run(lambda: self._hasher.hash(password), may_refuse=False)

    async def _verify(self, stored: str, password: str, *, may_refuse: bool = True) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._gate.run(verify, may_refuse=may_refuse)

    # -- accounts ----------------------------------------------------------------------------

    async def create(
        self, username: str, password: str, *, role: str, display_name: str | None = None,
        actor: Actor | None = None,
    ) -> AgentInfo:
        check_new_account(username, password, role)
        password_hash = await self._hash(password)
        taken = AccountExists(f"the username {username!r} is taken")
        try:
            async with self._db.transaction() as session:
                if await session.scalar(select(Agent.id).where(Agent.username == username)):
                    raise taken
                agent = Agent(
                    username=username, role=role, display_name=display_name,
                    password_hash=password_hash, active=True,
                )
                session.add(agent)
                await session.flush()
                self._audit.add(session, actor or self._operator, AuditAction.ACCOUNT_CREATE,
                                details={"account": username, "role": role})
                return _info(agent)
        except IntegrityError as exc:  # created at the same moment elsewhere
            raise taken from exc

    async def set_password(
        self, username: str, password: str, *, role: str | None = None, actor: Actor | None = None
    ) -> None:
        """Reset a password (and optionally the role); every open session is logged out.

        A disabled agent stays disabled: enabling is a separate, deliberate step.
        """
        check_new_account(username, password, role or Role.AGENT)
        password_hash = await self._hash(password)
        async with self._db.transaction() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            agent.password_hash = password_hash
            if role is not None:
                agent.role = role
            self._audit.add(session, actor or self._operator, AuditAction.ACCOUNT_PASSWORD,
                            details={"account": username, "role": agent.role})
            await session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    async def set_active(self, username: str, active: bool, *, actor: Actor | None = None) -> bool:
        """Enable or disable an agent; disabling ends every session at once. Returns whether
        anything changed; :class:`NotFound` for an unknown username."""
        async with self._db.transaction() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            changed = agent.active != active
            agent.active = active
            if changed:
                action = AuditAction.ACCOUNT_ENABLE if active else AuditAction.ACCOUNT_DISABLE
                self._audit.add(session, actor or self._operator, action,
                                details={"account": username})
            if not active:
                await session.execute(
                    delete(AgentSession).where(AgentSession.agent_id == agent.id)
                )
        return changed

    async def set_skills(
        self, username: str, skills: list[str], *, actor: Actor | None = None
    ) -> list[str]:
        """Set the agent's skills for routing (``[]`` clears them: the agent then sees every
        handoff as theirs). The caller checks the names against the skills file
        (``handoff.routing.SkillMap.check``). :class:`NotFound` for an unknown username."""
        async with self._db.transaction() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            before = list(agent.skills or [])
            agent.skills = list(skills) or None
            if before != list(skills):
                self._audit.add(session, actor or self._operator, AuditAction.ACCOUNT_SKILLS,
                                details={"account": username, "skills": list(skills),
                                         "before": before})
        return list(skills)

    async def skills_of(self) -> dict[str, list[str]]:
        """Every account's skills by username (none set: an empty list)."""
        async with self._db.sessions() as session:
            rows = await session.execute(select(Agent.username, Agent.skills))
        return {row.username: list(row.skills or []) for row in rows}

    async def ensure_admin(self, password: str) -> None:
        """Create the supervisor ``admin``, or reset its password when it changed.

        The stored hash is checked first, so a restart with the same password changes nothing
        (sessions survive). A disabled ``admin`` stays disabled: the operator who disabled it
        enables it with ``abonent agents enable admin``, not by restarting.
        """
        async with self._db.sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == ADMIN_USERNAME))
        if agent is None:
            try:
                await self.create(ADMIN_USERNAME, password, role=Role.SUPERVISOR,
                                  display_name="Administrator", actor=STARTUP)
                log.info("created the supervisor %r from ABONENT_ADMIN_PASSWORD", ADMIN_USERNAME)
            except AccountExists:  # another replica was faster
                pass
            return
        same = await self._verify(agent.password_hash, password, may_refuse=False)
        if not same or agent.role != Role.SUPERVISOR:
            await self.set_password(ADMIN_USERNAME, password, role=Role.SUPERVISOR,
                                    actor=STARTUP)
            log.info("reset the supervisor %r from ABONENT_ADMIN_PASSWORD", ADMIN_USERNAME)
        if not agent.active:
            log.warning("the supervisor %r is disabled; `abonent agents enable %s` enables it",
                        ADMIN_USERNAME, ADMIN_USERNAME)

    async def find(self, username: str) -> AgentInfo | None:
        async with self._db.sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username.strip()))
        return _info(agent) if agent else None

    async def all_agents(self) -> list[tuple[AgentInfo, bool, datetime | None]]:
        async with self._db.sessions() as session:
            rows = (await session.scalars(select(Agent).order_by(Agent.username))).all()
        return [(_info(a), a.active, a.last_seen_at) for a in rows]

    # -- logins ------------------------------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> AgentInfo:
        async with self._db.sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username.strip()))
        stored = agent.password_hash if agent is not None else self._dummy_hash
        ok = await self._verify(stored, password)
        if agent is None or not agent.active or not ok:
            raise InvalidCredentials("wrong username or password")
        return _info(agent)

    async def login(self, username: str, password: str, *, kind: str) -> Login:
        agent = await self.authenticate(username, password)
        token = secrets.token_urlsafe(32)
        expires_at = utcnow() + self._ttl
        async with self._db.transaction() as session:
            session.add(AgentSession(token_hash=token_hash(token), agent_id=agent.id, kind=kind,
                                     expires_at=expires_at))
            await session.execute(
                update(Agent).where(Agent.id == agent.id).values(last_seen_at=utcnow())
            )
        return Login(token, expires_at, agent)

    async def resolve(self, token: str) -> AgentInfo:
        """The agent behind a session token; InvalidCredentials when unknown or expired."""
        now = utcnow()
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(Agent, AgentSession.expires_at)
                    .join(AgentSession, AgentSession.agent_id == Agent.id)
                    .where(AgentSession.token_hash == token_hash(token))
                )
            ).first()
        if row is None or not row[0].active or aware(row[1]) <= now:
            raise InvalidCredentials("not logged in or the session has expired")
        agent: Agent = row[0]
        if agent.last_seen_at is None or aware(agent.last_seen_at) < now - _SEEN_EVERY:
            await self.touch(agent.id)
        return _info(agent)

    async def touch(self, agent_id: int) -> None:
        """Mark the agent as working now (the wait estimate counts agents seen recently)."""
        async with self._db.transaction() as session:
            await session.execute(
                update(Agent).where(Agent.id == agent_id).values(last_seen_at=utcnow())
            )

    async def logout(self, token: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(AgentSession).where(AgentSession.token_hash == token_hash(token))
            )

    async def purge_expired(self) -> int:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(AgentSession).where(AgentSession.expires_at <= utcnow())
            )
        return affected_rows(result)

