"""What the core asks of the human handoff: the contract ``handoff/`` implements (queue, agent
desk, ratings) and the composition root plugs in, so the core never imports ``handoff/``.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import OutboundMessage
from bot.storage import Conversation, ConversationState, Message
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
