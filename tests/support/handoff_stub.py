"""A handoff that only switches the conversation's state: the core's unit tests use it in place
of the desk (``bot.handoff_contract.HandoffHooks``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff_contract import AGENT_STATES
from bot.messages import OutboundMessage
from bot.storage import Conversation, ConversationState, Message
from knowledge_base import KnowledgeBase
from nlu import NluResult


class StateOnlyHandoff:
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
