"""Write side of the desk: claim, reply, note, close, return to the bot.

Each action is one transaction. The conversation row is locked first (``FOR UPDATE`` on
PostgreSQL), then the handoff's status changes by a conditional UPDATE, so two agents
claiming at once get one winner and one :class:`~handoff.errors.Conflict`. What the
subscriber is told goes through the outbox, in the same transaction, to their own channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.storage import Conversation, ConversationState, Database, Identity, affected_rows
from handoff.auth import AgentInfo
from handoff.desk_hooks import AWAITING_RATING, rating_buttons
from handoff.errors import Conflict, Forbidden, NotFound
from handoff.events import DeskEvents
from handoff.queue import current_handoff
from handoff.schemas import ActionOut, MessageOut, NoteOut
from handoff.tables import Agent, Handoff, HandoffNote, HandoffStatus
from handoff.timeutil import seconds_between
from knowledge_base import KnowledgeBase, PhraseKey


@dataclass
class _Locked:
    session: AsyncSession
    conversation: Conversation
    handoff: Handoff


class Desk:
    def __init__(
        self, *, db: Database, kb: KnowledgeBase, notifier: Notifier, events: DeskEvents
    ) -> None:
        self._db = db
        self._kb = kb
        self._notifier = notifier
        self._events = events

    async def claim(self, viewer: AgentInfo, conversation_id: str) -> ActionOut:
        async with self._locked(conversation_id) as locked:
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
            return _action(locked)

    async def reply(self, viewer: AgentInfo, conversation_id: str, text: str) -> MessageOut:
        async with self._locked(conversation_id) as locked:
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
            return MessageOut(id=stored_id, conversation_id=conversation_id, text=text, at=now)

    async def note(self, viewer: AgentInfo, conversation_id: str, text: str) -> NoteOut:
        async with self._locked(conversation_id, open_only=False) as locked:
            handoff = locked.handoff
            if not (viewer.is_supervisor or handoff.status == HandoffStatus.WAITING
                    or handoff.agent_id == viewer.id):
                raise Forbidden("another agent handles this conversation")
            note = HandoffNote(handoff_id=handoff.id, agent_id=viewer.id, text=text)
            locked.session.add(note)
            await locked.session.flush()
            return NoteOut(id=note.id, agent=viewer.username, text=text, at=note.created_at)

    async def close(self, viewer: AgentInfo, conversation_id: str, resolution: str) -> ActionOut:
        async with self._locked(conversation_id) as locked:
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
            return _action(locked)

    async def return_to_bot(self, viewer: AgentInfo, conversation_id: str) -> ActionOut:
        async with self._locked(conversation_id) as locked:
            self._require_owner(viewer, locked.handoff, waiting_ok=True)
            await self._end(locked, viewer, HandoffStatus.RETURNED)
            conversation = locked.conversation
            conversation.state = ConversationState.BOT
            conversation.awaiting = None
            conversation.misunderstandings = 0
            text = self._kb.phrase(PhraseKey.RETURNED_TO_BOT, self._lang(locked))
            await self._tell(locked, [OutboundMessage(text=text)])
            return _action(locked)

    # -- internals ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self, conversation_id: str, *, open_only: bool = True) -> AsyncIterator[
        _Locked
    ]:
        async with self._db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            handoff = await current_handoff(session, conversation_id) if conversation else None
            if conversation is None or handoff is None:
                raise NotFound("no handoff for this conversation")
            if open_only and handoff.status not in HandoffStatus.OPEN:
                raise Conflict(f"the handoff is already {handoff.status}")
            yield _Locked(session, conversation, handoff)
        self._events.publish()
        self._notifier.messages.publish()
        self._notifier.outbox.publish()

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
        ended = await locked.session.execute(
            update(Handoff)
            .where(Handoff.id == locked.handoff.id,
                   Handoff.status == locked.handoff.status)
            .values(status=status, ended_at=utcnow(), ended_by=viewer.id, resolution=resolution)
        )
        if affected_rows(ended) != 1:
            await locked.session.refresh(locked.handoff)
            raise Conflict(f"the handoff is already {locked.handoff.status}")

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


def _action(locked: _Locked) -> ActionOut:
    return ActionOut(
        conversation_id=locked.conversation.id,
        handoff_id=locked.handoff.id,
        status=locked.handoff.status,
        state=locked.conversation.state,
    )
