"""Write side of the desk: claim, reply, note, close, return to the bot; and a supervisor's
join, whisper and take-over.

Each action is one transaction, with its audit entry (handoff/audit.py) inside it. The conversation row is locked first (``FOR UPDATE`` on
PostgreSQL), then the handoff's status changes by a conditional UPDATE, so two agents
claiming at once get one winner and one :class:`~handoff.errors.Conflict`. What the
subscriber is told goes through the outbox, in the same transaction, to their own channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.reasons import Reason
from bot.storage import Conversation, ConversationState, Database, Identity, affected_rows
from handoff.audit import Actor, AuditAction, AuditTrail
from handoff.auth import AgentInfo
from handoff.card import build_card
from handoff.desk_hooks import AWAITING_RATING, rating_buttons
from handoff.errors import Conflict, Forbidden, NotFound
from handoff.events import DeskEvents
from handoff.goodwill import Goodwill
from handoff.queue import current_handoff
from handoff.schemas import ActionOut, MessageOut, NoteOut
from handoff.silence import remember_silences
from handoff.tables import Agent, Handoff, HandoffNote, HandoffStatus, NoteKind
from handoff.timeutil import seconds_between
from knowledge_base import KnowledgeBase, PhraseKey


@dataclass
class _Locked:
    session: AsyncSession
    conversation: Conversation
    handoff: Handoff
    actor: Actor

    def audit(self, action: AuditAction, **details: Any) -> None:
        AuditTrail.add(self.session, self.actor, action, conversation_id=self.conversation.id,
                       handoff_id=self.handoff.id, details=details or None)


@dataclass
class _Opened:
    """A locked conversation whose handoff may be missing or ended (a supervisor's join)."""

    session: AsyncSession
    conversation: Conversation
    handoff: Handoff | None


class Desk:
    def __init__(
        self, *, db: Database, kb: KnowledgeBase, notifier: Notifier, events: DeskEvents,
        audit: AuditTrail | None = None, goodwill: Goodwill | None = None,
    ) -> None:
        self._db = db
        self._goodwill = goodwill
        self._kb = kb
        self._notifier = notifier
        self._events = events
        self._audit = audit or AuditTrail(db)

    async def claim(
        self, viewer: AgentInfo, conversation_id: str, *, address: str | None = None
    ) -> ActionOut:
        async with self._locked(conversation_id, Actor.of(viewer, address)) as locked:
            now = utcnow()
            won = await locked.session.execute(
                update(Handoff)
                .where(Handoff.id == locked.handoff.id, Handoff.status == HandoffStatus.WAITING)
                .values(status=HandoffStatus.ACTIVE, agent_id=viewer.id, claimed_at=now)
            )
            if affected_rows(won) != 1:
                await locked.session.refresh(locked.handoff)
                raise Conflict(await self._why_not_waiting(locked))
            conversation = locked.conversation
            conversation.state = ConversationState.WITH_AGENT
            joined = self._kb.phrase(PhraseKey.AGENT_JOINED, self._lang(locked), agent=viewer.name)
            await self._tell(locked, [OutboundMessage(text=joined)])
            await self._claimed(locked.session, conversation, locked.handoff, now)
            locked.audit(AuditAction.CLAIM)
            return _action(locked)

    async def reply(
        self, viewer: AgentInfo, conversation_id: str, text: str, *, address: str | None = None
    ) -> MessageOut:
        async with self._locked(conversation_id, Actor.of(viewer, address)) as locked:
            self._require_owner(viewer, locked.handoff)
            message = OutboundMessage(
                text=text, sender="agent",
                metadata={"agent": viewer.username, "agent_name": viewer.name},
            )
            [stored_id] = await self._tell(locked, [message])
            handoff, now = locked.handoff, utcnow()
            if handoff.first_reply_at is None:
                handoff.first_reply_at = now
                handoff.wait_seconds = round(seconds_between(handoff.created_at, now), 3)
            handoff.last_agent_at = now
            await remember_silences(locked.session, handoff, now)
            locked.audit(AuditAction.REPLY, message_id=stored_id)
            return MessageOut(id=stored_id, conversation_id=conversation_id, text=text, at=now)

    async def note(
        self, viewer: AgentInfo, conversation_id: str, text: str, *, address: str | None = None
    ) -> NoteOut:
        async with self._locked(conversation_id, Actor.of(viewer, address),
                                open_only=False) as locked:
            handoff = locked.handoff
            if not (viewer.is_supervisor or handoff.status == HandoffStatus.WAITING
                    or handoff.agent_id == viewer.id):
                raise Forbidden("another agent handles this conversation")
            return await _add_note(locked, viewer, text, NoteKind.NOTE, AuditAction.NOTE)

    async def close(
        self, viewer: AgentInfo, conversation_id: str, resolution: str, *,
        address: str | None = None,
    ) -> ActionOut:
        async with self._locked(conversation_id, Actor.of(viewer, address)) as locked:
            self._require_owner(viewer, locked.handoff, waiting_ok=viewer.is_supervisor)
            await self._end(locked, viewer, HandoffStatus.CLOSED, resolution=resolution or None)
            conversation = locked.conversation
            conversation.state = ConversationState.CLOSED
            conversation.closed_at = utcnow()
            conversation.awaiting = AWAITING_RATING
            conversation.misunderstandings = 0
            lang = self._lang(locked)
            await self._tell(locked, [
                OutboundMessage(text=self._kb.phrase(PhraseKey.CONVERSATION_CLOSED, lang)),
                OutboundMessage(text=self._kb.phrase(PhraseKey.RATING_QUESTION, lang),
                                buttons=rating_buttons()),
            ])
            locked.audit(AuditAction.CLOSE)
            return _action(locked)

    async def return_to_bot(
        self, viewer: AgentInfo, conversation_id: str, *, address: str | None = None
    ) -> ActionOut:
        async with self._locked(conversation_id, Actor.of(viewer, address)) as locked:
            self._require_owner(viewer, locked.handoff, waiting_ok=True)
            await self._end(locked, viewer, HandoffStatus.RETURNED)
            conversation = locked.conversation
            conversation.state = ConversationState.BOT
            conversation.awaiting = None
            conversation.misunderstandings = 0
            text = self._kb.phrase(PhraseKey.RETURNED_TO_BOT, self._lang(locked))
            await self._tell(locked, [OutboundMessage(text=text)])
            locked.audit(AuditAction.RETURN_TO_BOT)
            return _action(locked)

    # -- a supervisor's tools ----------------------------------------------------------------

    async def join(
        self, viewer: AgentInfo, conversation_id: str, *, address: str | None = None
    ) -> ActionOut:
        """Join a conversation: the bot's (a handoff is opened, the supervisor owns it), a
        waiting one (the supervisor claims it) or an agent's (the supervisor joins the agent;
        both may reply). The subscriber is told a senior colleague joined."""
        _require_supervisor(viewer)
        async with self._opened(conversation_id) as opened:
            handoff = opened.handoff
            if handoff is not None and handoff.status == HandoffStatus.ACTIVE:
                if viewer.id in (handoff.agent_id, handoff.supervisor_id):
                    raise Conflict("you are already in this conversation")
                handoff.supervisor_id = viewer.id
            else:
                handoff = await self._own(opened, viewer)
            locked = _Locked(opened.session, opened.conversation, handoff,
                             Actor.of(viewer, address))
            await self._tell_joined(locked, viewer)
            locked.audit(AuditAction.JOIN)
            return _action(locked)

    async def take_over(
        self, viewer: AgentInfo, conversation_id: str, *, address: str | None = None
    ) -> ActionOut:
        """Make the conversation the supervisor's: its agent no longer handles (nor sees) it.
        A conversation nobody handles yet is joined and owned at once."""
        _require_supervisor(viewer)
        async with self._opened(conversation_id) as opened:
            handoff, details = opened.handoff, {}
            had_joined = handoff is not None and handoff.supervisor_id == viewer.id
            if handoff is not None and handoff.status == HandoffStatus.ACTIVE:
                if handoff.agent_id == viewer.id:
                    raise Conflict("the conversation is already yours")
                details["from_agent"] = await self._username(opened.session, handoff.agent_id)
                handoff.agent_id, handoff.supervisor_id = viewer.id, None
            else:
                handoff = await self._own(opened, viewer)
            locked = _Locked(opened.session, opened.conversation, handoff,
                             Actor.of(viewer, address))
            if not had_joined:
                await self._tell_joined(locked, viewer)
            locked.audit(AuditAction.TAKE_OVER, **details)
            return _action(locked)

    async def whisper(
        self, viewer: AgentInfo, conversation_id: str, text: str, *, address: str | None = None
    ) -> NoteOut:
        """A supervisor's word to the agent: shown in the agent's desk at once, never sent to
        the subscriber."""
        _require_supervisor(viewer)
        async with self._locked(conversation_id, Actor.of(viewer, address)) as locked:
            return await _add_note(locked, viewer, text, NoteKind.WHISPER, AuditAction.WHISPER)

    # -- internals ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _opened(self, conversation_id: str) -> AsyncIterator[_Opened]:
        """The conversation row locked, with its latest handoff if any; everyone is woken
        once the transaction commits."""
        async with self._db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None:
                raise NotFound("no such conversation")
            yield _Opened(session, conversation, await current_handoff(session, conversation_id))
        self._events.publish()
        self._notifier.messages.publish()
        self._notifier.outbox.publish()
        if self._goodwill is not None:
            self._goodwill.wake.set()  # a grant left pending by this transaction goes out now

    @asynccontextmanager
    async def _locked(
        self, conversation_id: str, actor: Actor, *, open_only: bool = True
    ) -> AsyncIterator[_Locked]:
        async with self._opened(conversation_id) as opened:
            handoff = opened.handoff
            if handoff is None:
                raise NotFound("no handoff for this conversation")
            if open_only and handoff.status not in HandoffStatus.OPEN:
                raise Conflict(f"the handoff is already {handoff.status}")
            yield _Locked(opened.session, opened.conversation, handoff, actor)

    async def _own(self, opened: _Opened, viewer: AgentInfo) -> Handoff:
        """The supervisor becomes the owner: of the waiting handoff, or of a new one opened on
        a conversation the bot holds."""
        session, conversation, handoff, now = opened.session, opened.conversation, \
            opened.handoff, utcnow()
        if handoff is not None and handoff.status == HandoffStatus.WAITING:
            won = await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff.id, Handoff.status == HandoffStatus.WAITING)
                .values(status=HandoffStatus.ACTIVE, agent_id=viewer.id, claimed_at=now)
            )
            if affected_rows(won) != 1:  # cannot happen under the row lock; say so if it does
                raise Conflict("the handoff changed meanwhile; try again")
            await session.refresh(handoff)
            await self._claimed(session, conversation, handoff, now)
        else:
            handoff = await self._open_handoff(session, conversation, viewer, now)
        conversation.state = ConversationState.WITH_AGENT
        return handoff

    async def _open_handoff(
        self, session: AsyncSession, conversation: Conversation, viewer: AgentInfo, now: datetime
    ) -> Handoff:
        lang = conversation.lang or "ru"
        reason = Reason.SUPERVISOR_JOINED
        card = await build_card(session, self._kb, conversation, reason=reason, lang=lang,
                                escalated_at=now)
        handoff = Handoff(
            conversation_id=conversation.id, status=HandoffStatus.ACTIVE, reason=reason,
            channel=conversation.channel, lang=lang, card=card,
            sentiment=float(card["sentiment"]["score"]), agent_id=viewer.id, created_at=now,
            claimed_at=now,
        )
        session.add(handoff)
        await session.flush()
        conversation.awaiting = None
        conversation.closed_at = None
        conversation.misunderstandings = 0
        conversation.context = {
            **(conversation.context or {}), "handoff_id": handoff.id,
            "handoff_reason": str(reason), "handoff_acknowledged": True,
        }
        return handoff

    async def _claimed(self, session: AsyncSession, conversation: Conversation,
                       handoff: Handoff, now: datetime) -> None:
        """A person took a waiting handoff: a long wait may earn the subscriber a goodwill
        bonus (decided and recorded in this transaction, granted right after it)."""
        if self._goodwill is not None:
            await self._goodwill.on_claimed(session, conversation, handoff, now)

    async def _tell_joined(self, locked: _Locked, viewer: AgentInfo) -> None:
        text = self._kb.phrase(PhraseKey.SUPERVISOR_JOINED, self._lang(locked), agent=viewer.name)
        await self._tell(locked, [OutboundMessage(text=text)])

    @staticmethod
    async def _username(session: AsyncSession, agent_id: int | None) -> str | None:
        agent = await session.get(Agent, agent_id) if agent_id is not None else None
        return agent.username if agent else None

    @staticmethod
    def _require_owner(viewer: AgentInfo, handoff: Handoff, *, waiting_ok: bool = False) -> None:
        if handoff.status == HandoffStatus.WAITING:
            if waiting_ok:
                return
            raise Conflict("claim the conversation first")
        if handoff.agent_id != viewer.id and not viewer.is_supervisor:
            raise Forbidden("another agent handles this conversation")

    async def _end(
        self, locked: _Locked, viewer: AgentInfo, status: str, *, resolution: str | None = None
    ) -> None:
        now = utcnow()
        ended = await locked.session.execute(
            update(Handoff)
            .where(Handoff.id == locked.handoff.id,
                   Handoff.status == locked.handoff.status)
            .values(status=status, ended_at=now, ended_by=viewer.id, resolution=resolution)
        )
        if affected_rows(ended) != 1:
            await locked.session.refresh(locked.handoff)
            raise Conflict(f"the handoff is already {locked.handoff.status}")
        await remember_silences(locked.session, locked.handoff, now, ended_at=now)
        if self._goodwill is not None and locked.handoff.claimed_at is None:
            await self._goodwill.on_ended_unanswered(locked.session, locked.handoff, now)

    async def _why_not_waiting(self, locked: _Locked) -> str:
        handoff = locked.handoff
        if handoff.status == HandoffStatus.ACTIVE and handoff.agent_id is not None:
            agent = await locked.session.get(Agent, handoff.agent_id)
            return f"already claimed by {agent.username if agent else 'another agent'}"
        return f"the handoff is already {handoff.status}"

    async def _tell(self, locked: _Locked, messages: Sequence[OutboundMessage]) -> list[int]:
        identity = await locked.session.get(Identity, locked.conversation.identity_id)
        if identity is None:
            raise NotFound("the subscriber of this conversation is gone")
        return [
            await enqueue_reply(locked.session, conversation=locked.conversation,
                                address=identity.address, message=message)
            for message in messages
        ]

    @staticmethod
    def _lang(locked: _Locked) -> str:
        return locked.conversation.lang or locked.handoff.lang or "ru"


async def _add_note(
    locked: _Locked, viewer: AgentInfo, text: str, kind: str, action: AuditAction
) -> NoteOut:
    note = HandoffNote(handoff_id=locked.handoff.id, agent_id=viewer.id, text=text, kind=kind)
    locked.session.add(note)
    await locked.session.flush()
    locked.audit(action, note_id=note.id)
    return NoteOut(id=note.id, agent=viewer.username, text=text, at=note.created_at,
                   kind=note.kind)


def _require_supervisor(viewer: AgentInfo) -> None:
    if not viewer.is_supervisor:
        raise Forbidden("supervisors only")


def _action(locked: _Locked) -> ActionOut:
    return ActionOut(
        conversation_id=locked.conversation.id,
        handoff_id=locked.handoff.id,
        status=locked.handoff.status,
        state=locked.conversation.state,
    )
