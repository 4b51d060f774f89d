"""A turn: what the bot (or the handoff) answers to one message, decided and stored inside the
caller's transaction, with what must be fetched from outside (the NLU, billing, SMS) done
before that transaction opens."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff_contract import HandoffHooks
from bot.messages import OutboundMessage, utcnow
from bot.outbox import enqueue_reply
from bot.personal import PersonalData
from bot.personal_policy import TAKES_A_NUMBER, Need, PersonalFacts
from bot.policy import ConversationView, Decision, DialoguePolicy, Turn, parse_payload
from bot.storage import Conversation, ConversationState, Identity, Message
from bot.verification import extract_code
from nlu import NluClient, NluError, NluResult
from nlu.cache import ParseCache
from nlu.languages import DEFAULT_LANG

CONTACT_CHANNELS = frozenset({"telegram"})  # shared contacts the platform proves are the user's
PENDING = "pending"  # conversations.context: a personal question waiting for a verification
REDACTED_CODE = "••••••"  # what the transcript keeps of a message that held a one-time code

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredReply:
    id: int
    message: OutboundMessage


class Turns:
    def __init__(
        self,
        nlu: NluClient,
        policy: DialoguePolicy,
        handoff: HandoffHooks,
        *,
        personal: PersonalData | None = None,
        contact_channels: frozenset[str] = CONTACT_CHANNELS,
        pulled_channels: frozenset[str] = frozenset(),
    ) -> None:
        """``personal``: billing and verification (without it nobody is verified by code and
        personal questions get the general articles); ``contact_channels``: the channels whose
        shared contacts the platform proves (Telegram); ``pulled_channels``: channels whose
        replies are delivered by being stored (the web chat's page reads them), so their
        outbox rows are written as sent and cost the sender nothing."""
        self._nlu = nlu
        self._policy = policy
        self._handoff = handoff
        self.personal = personal
        self._contact_channels = contact_channels
        self.pulled = pulled_channels

    async def handle(
        self,
        session: AsyncSession,
        convo: Conversation,
        identity: Identity,
        message: Message,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
    ) -> list[StoredReply]:
        """Decide (the handoff first, then the policy) and store the replies and their outbox
        rows; the caller owns the transaction."""
        view = self._view(convo, identity)
        lang = self._policy.language(view, turn, nlu)  # decided once, for both below
        replies = await self._handoff.intercept(session, convo, message, nlu=nlu, lang=lang)
        if replies is None:
            replies = await self._decide(session, convo, message, view, turn, nlu, facts)
        elif nlu is not None:
            _record_nlu(message, nlu)
        delivered = convo.channel in self.pulled
        stored = []
        for reply in replies:
            reply_id = await enqueue_reply(
                session, conversation=convo, address=identity.address, message=reply,
                reply_to_id=message.id, delivered=delivered,
            )
            stored.append(StoredReply(reply_id, reply))
        now = utcnow()
        message.processed_at = now
        convo.updated_at = now
        return stored

    async def understand(self, conversation: Conversation, turn: Turn) -> NluResult | None:
        lang = turn.lang_hint or conversation.lang or DEFAULT_LANG
        if turn.payload:
            parsed = parse_payload(turn.payload, lang)
            if parsed is not None:
                return parsed
            turn_text = turn.payload
        else:
            turn_text = turn.text
        if not turn_text.strip() or turn.command:
            return None
        try:
            return await self._nlu.parse(turn_text, lang_hint=turn.lang_hint)
        except NluError as exc:
            log.warning("NLU unavailable for conversation %s: %s", conversation.id, exc)
            return None

    async def gather(self, conversation: Conversation, identity: Identity, turn: Turn,
                      nlu: NluResult | None, text: str) -> PersonalFacts | None:
        """Before the transaction: end a lapsed verification, then fetch what the turn needs
        (billing, SMS) so no outside call holds the database."""
        if self.personal is None:
            return None
        need, phone = await self.need(conversation, identity, turn, nlu)
        if need is None:
            return None
        return await self.personal.gather(need, identity_id=identity.id, phone=phone, text=text)

    async def need(self, conversation: Conversation, identity: Identity, turn: Turn,
                    nlu: NluResult | None) -> tuple[Need | None, str | None]:
        """What the turn needs from outside, and the identity's current verified number (a
        lapsed verification ends here)."""
        assert self.personal is not None
        phone = await self.personal.current_phone(
            identity.id, identity.channel, identity.verified_phone, identity.verified_at
        )
        view = replace(self._view(conversation, identity), verified_phone=phone)
        return self._policy.needs(view, turn, nlu), phone

    async def _decide(
        self,
        session: AsyncSession,
        convo: Conversation,
        message: Message,
        view: ConversationView,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
    ) -> list[OutboundMessage]:
        decision = self._policy.decide(view, turn, nlu, facts)
        if nlu is not None:
            _record_nlu(message, nlu)
        message.lang = decision.lang
        if decision.redact_text:
            message.text = REDACTED_CODE
        return await self._apply(session, convo, decision)

    async def _apply(
        self, session: AsyncSession, convo: Conversation, decision: Decision
    ) -> list[OutboundMessage]:
        convo.lang = decision.lang
        convo.misunderstandings = decision.misunderstandings
        convo.awaiting = decision.awaiting
        if (convo.context or {}).get(PENDING) != decision.pending:
            convo.context = {**(convo.context or {}), PENDING: decision.pending}
        if convo.state == ConversationState.CLOSED:  # a late answer (e.g. a rating) reopens nothing
            convo.awaiting = None
        replies = list(decision.replies)
        if decision.escalate:
            replies += await self._handoff.escalate(
                session, convo, reason=decision.escalate, lang=decision.lang
            )
        return replies

    def _view(self, convo: Conversation, identity: Identity) -> ConversationView:
        phone = identity.verified_phone
        if phone is not None and self.personal is not None:
            verified_at = identity.verified_at
            if verified_at is None or not self.personal.is_current(identity.channel,
                                                                    verified_at):
                phone = None  # lapsed: ended for good before the next answer
        return ConversationView(
            state=convo.state,
            lang=convo.lang or DEFAULT_LANG,
            misunderstandings=convo.misunderstandings,
            awaiting=convo.awaiting,
            verified_phone=phone,
            pending=(convo.context or {}).get(PENDING),
            can_share_contact=convo.channel in self._contact_channels,
        )


def holds_secret(conversation: Conversation, text: str) -> bool:
    """While a number or a code is awaited, a message with one in it is not sent to the NLU
    at all (it is the verification's, and it is personal)."""
    return conversation.awaiting in TAKES_A_NUMBER and (
        extract_code(text) is not None or not ParseCache.keeps(text)
    )


def _record_nlu(message: Message, nlu: NluResult) -> None:
    message.nlu = nlu.to_dict()
    message.intent = nlu.intent
    message.confidence = nlu.confidence
