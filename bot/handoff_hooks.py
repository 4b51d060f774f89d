"""What the core asks of the human handoff. ``handoff/`` provides the full implementation
(queue, agent desk, ratings); :class:`BasicHandoff` only switches the state, so the core works
alone and in unit tests.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage
from bot.storage import Conversation, ConversationState, Message
from knowledge_base import KnowledgeBase
from nlu import NluResult

AGENT_STATES = (ConversationState.WAITING_AGENT, ConversationState.WITH_AGENT)


class HandoffHooks(Protocol):
    async def intercept(
        self,
        session: AsyncSession,
        conversation: Conversation,
        message: Message,
        *,
        nlu: NluResult | None,
        lang: str,
    ) -> list[OutboundMessage] | None:
        """Called for every inbound message, inside its transaction, before the bot's policy.

        Return the replies when the handoff owns this message (a person owns the conversation,
        a cancel while waiting, a rating after close, an escalation on strong negativity);
        return None to let the bot answer. ``nlu`` is None while a person owns the conversation
        (the bot does not parse those messages) or when the NLU is down.
        """
        ...

    async def escalate(
        self, session: AsyncSession, conversation: Conversation, *, reason: str, lang: str
    ) -> list[OutboundMessage]:
        """Move the conversation to a person; return what to tell the subscriber."""
        ...


class BasicHandoff:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    async def intercept(
        self,
        session: AsyncSession,
        conversation: Conversation,
        message: Message,
        *,
        nlu: NluResult | None,
        lang: str,
    ) -> list[OutboundMessage] | None:
        if conversation.state not in AGENT_STATES:
            return None
        context = dict(conversation.context or {})
        if context.get("acknowledged_waiting"):
            return []
        conversation.context = {**context, "acknowledged_waiting": True}
        return [OutboundMessage(text=self._kb.phrase("handoff_already_waiting", lang))]

    async def escalate(
        self, session: AsyncSession, conversation: Conversation, *, reason: str, lang: str
    ) -> list[OutboundMessage]:
        conversation.state = ConversationState.WAITING_AGENT
        conversation.context = {**(conversation.context or {}), "handoff_reason": reason,
                                "acknowledged_waiting": False}
        text = self._kb.phrase("handoff_waiting", lang, position="1", wait_minutes="3")
        return [OutboundMessage(text=text)]
