"""What the core asks of the human handoff. ``handoff/`` provides the full implementation
(queue, agent desk); :class:`BasicHandoff` only switches the state, so the core works alone.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage
from bot.storage import Conversation, ConversationState, Message
from knowledge_base import KnowledgeBase


class HandoffHooks(Protocol):
    async def escalate(
        self, session: AsyncSession, conversation: Conversation, *, reason: str, lang: str
    ) -> list[OutboundMessage]:
        """Move the conversation to a person; return what to tell the subscriber."""
        ...

    async def on_subscriber_message(
        self, session: AsyncSession, conversation: Conversation, message: Message, *, lang: str
    ) -> list[OutboundMessage]:
        """A message arrived while a person owns the conversation."""
        ...


class BasicHandoff:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    async def escalate(
        self, session: AsyncSession, conversation: Conversation, *, reason: str, lang: str
    ) -> list[OutboundMessage]:
        conversation.state = ConversationState.WAITING_AGENT
        conversation.context = {**(conversation.context or {}), "handoff_reason": reason,
                                "acknowledged_waiting": False}
        text = self._kb.phrase("handoff_waiting", lang, position="1", wait_minutes="3")
        return [OutboundMessage(text=text)]

    async def on_subscriber_message(
        self, session: AsyncSession, conversation: Conversation, message: Message, *, lang: str
    ) -> list[OutboundMessage]:
        context = dict(conversation.context or {})
        if context.get("acknowledged_waiting"):
            return []
        conversation.context = {**context, "acknowledged_waiting": True}
        return [OutboundMessage(text=self._kb.phrase("handoff_already_waiting", lang))]
