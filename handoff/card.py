"""The context card: everything the bot learned, so the agent never asks the subscriber to
repeat it. Built once at escalation (stored on the handoff); read live: the transcript, who the
subscriber is now (verification ends, channels get linked after the escalation) and the
customer's other channels and conversations."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.phones import format_phone, is_e164
from bot.storage import Conversation, Identity, Message
from handoff.sentiment import NEUTRAL, Sentiment, analyse, label_for
from handoff.tables import Agent, Handoff, HandoffNote
from knowledge_base import KnowledgeBase
from nlu import intent_family

# Intents that say nothing about the topic ("hello", "a person please").
_NOT_A_TOPIC = {
    "human_request", "greet", "goodbye", "thanks", "affirm", "deny", "out_of_scope",
    "nlu_fallback",
}
CARD_INTENTS = 20  # the latest understood messages kept on the card
SUMMARY_QUOTE = 140
TRANSCRIPT_LIMIT = 300
RECENT_CONVERSATIONS = 5  # the customer's other conversations shown on the card
TOPIC_LOOKBACK = 20  # understood messages read per listed conversation to name its topic
ALIAS_HEX = 4


def identity_alias(identity_id: int) -> str:
    """Four hex characters naming an identity on the card ("7f3a"): stable, and unrelated to
    the channel's user id (for the web chat that id is the browser's key to the chat)."""
    return hashlib.sha256(f"abonent-identity:{identity_id}".encode()).hexdigest()[:ALIAS_HEX]


def readable_phone(e164: str) -> str:
    """"+375291234567" -> "+375 29 123-45-67"; a value that is not E.164 (written before
    numbers were normalised) is shown as it is rather than hidden from the agent."""
    return format_phone(e164) if is_e164(e164) else e164


def identity_view(identity: Identity, *, with_phone: bool = True) -> dict[str, Any]:
    """Who the subscriber is, as the card shows it (JSON-ready). Never the channel's user id.

    An identity is verified while ``verified_phone`` is set (expiry and logout clear it).
    ``with_phone=False`` is for the copy stored on the handoff: the number is read live, so a
    subscriber who logs out takes it off every card.
    """
    verified = identity.verified_phone is not None
    view: dict[str, Any] = {
        "alias": identity_alias(identity.id),
        "display_name": identity.display_name,
        "verified": verified,
        "verified_via": identity.verified_via if verified else None,
        "verified_at": (identity.verified_at.isoformat()
                        if verified and identity.verified_at is not None else None),
    }
    if with_phone:
        phone = identity.verified_phone
        view["verified_phone"] = readable_phone(phone) if phone is not None else None
    return view


@dataclass(frozen=True, slots=True)
class RecentConversation:
    conversation: Conversation
    latest_handoff: Handoff | None
    topic: str | None  # an intent, None when nothing said what it was about


@dataclass(frozen=True, slots=True)
class CustomerContext:
    """The customer behind a conversation as the database links them now."""

    others: list[Identity]  # the customer's identities but the conversation's own
    recent: list[RecentConversation]  # newest first


async def customer_context(
    session: AsyncSession, conversation: Conversation, *, limit: int = RECENT_CONVERSATIONS
) -> CustomerContext:
    """The customer's other identities and latest other conversations, on any of their
    identities. Three queries however long the history. The customer is the one the
    conversation's identity belongs to now, so a link made after the escalation shows."""
    owner = (
        select(Identity.customer_id)
        .where(Identity.id == conversation.identity_id)
        .scalar_subquery()
    )
    identities = (
        await session.scalars(
            select(Identity).where(Identity.customer_id == owner).order_by(Identity.id)
        )
    ).all()
    if not identities:
        return CustomerContext(others=[], recent=[])
    earlier = aliased(Handoff)
    latest_handoff = (
        select(func.max(earlier.id))
        .where(earlier.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Conversation, Handoff)
            .outerjoin(Handoff, Handoff.id == latest_handoff)
            .where(
                Conversation.identity_id.in_([i.id for i in identities]),
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
            .limit(limit)
        )
    ).all()
    topics = await _topics(session, [row[0].id for row in rows])
    return CustomerContext(
        others=[i for i in identities if i.id != conversation.identity_id],
        recent=[
            RecentConversation(conversation=other, latest_handoff=handoff,
                               topic=topics.get(other.id))
            for other, handoff in rows
        ],
    )


async def _topics(session: AsyncSession, conversation_ids: list[str]) -> dict[str, str]:
    """Each conversation's topic: the newest understood message whose intent is one (a
    trailing "thanks" does not hide "roaming"). One query; none without conversations."""
    if not conversation_ids:
        return {}
    newest = (
        select(
            Message.conversation_id,
            Message.intent,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=Message.id.desc())
            .label("age"),
        )
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.direction == "in",
            Message.intent.is_not(None),
        )
        .subquery()
    )
    rows = await session.execute(
        select(newest.c.conversation_id, newest.c.intent)
        .where(newest.c.age <= TOPIC_LOOKBACK)
        .order_by(newest.c.conversation_id, newest.c.age)
    )
    topics: dict[str, str] = {}
    for conversation_id, intent in rows:
        if conversation_id not in topics and intent_family(intent) not in _NOT_A_TOPIC:
            topics[conversation_id] = intent
    return topics


def transcript_entry(message: Message) -> dict[str, Any]:
    meta = message.meta or {}
    return {
        "id": message.id,
        "at": message.created_at,
        "direction": message.direction,
        "sender": message.sender,
        "agent": meta.get("agent") if message.sender == "agent" else None,
        "text": message.text or message.payload or "",
        "intent": message.intent,
        "confidence": message.confidence,
    }


async def transcripts(
    session: AsyncSession, conversation_ids: Iterable[str], *, limit: int = TRANSCRIPT_LIMIT
) -> dict[str, list[dict[str, Any]]]:
    """The latest ``limit`` messages of each conversation, oldest first (one query)."""
    ids = list(dict.fromkeys(conversation_ids))
    out: dict[str, list[dict[str, Any]]] = {cid: [] for cid in ids}
    if not ids:
        return out
    newest = (
        select(
            Message.id,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=Message.id.desc())
            .label("age"),
        )
        .where(Message.conversation_id.in_(ids))
        .subquery()
    )
    rows = (
        await session.scalars(
            select(Message)
            .join(newest, newest.c.id == Message.id)
            .where(newest.c.age <= limit)
            .order_by(Message.id)
        )
    ).all()
    for row in rows:
        out[row.conversation_id].append(transcript_entry(row))
    return out


async def notes_of(
    session: AsyncSession, conversation_id: str
) -> list[tuple[HandoffNote, str]]:
    """The notes and whispers on every handoff of the conversation, oldest first, with their
    writers' usernames."""
    rows = await session.execute(
        select(HandoffNote, Agent.username)
        .join(Agent, Agent.id == HandoffNote.agent_id)
        .join(Handoff, Handoff.id == HandoffNote.handoff_id)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(HandoffNote.id)
    )
    return [(note, username) for note, username in rows]


async def build_card(
    session: AsyncSession,
    kb: KnowledgeBase,
    conversation: Conversation,
    *,
    reason: str,
    lang: str,
    escalated_at: datetime,
) -> dict[str, Any]:
    identity = await session.get(Identity, conversation.identity_id)
    inbound = (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.direction == "in")
            .order_by(Message.id)
        )
    ).all()
    understood = [m for m in inbound if m.intent][-CARD_INTENTS:]
    topic = _topic(understood)
    entities = _entities(understood)
    sentiment = conversation_sentiment(m.text for m in inbound[-10:])
    return {
        "channel": conversation.channel,
        "lang": lang,
        # who they were at escalation, for the record; the desk shows them as they are now
        "identity": identity_view(identity, with_phone=False) if identity else {},
        "reason": reason,
        "topic": topic,
        "summary": summary_line(kb, lang, topic=topic, entities=entities,
                                quote=_quote(inbound, topic)),
        "intents": [_intent_entry(m) for m in understood],
        "entities": entities,
        "sentiment": sentiment.to_dict(),
        "escalated_at": escalated_at.isoformat(),
        "messages_before": len(inbound),
    }


def conversation_sentiment(texts: Iterable[str]) -> Sentiment:
    """The most negative of the messages: one outburst is what matters for priority."""
    worst = NEUTRAL
    for text in texts:
        current = analyse(text or "")
        if current.score < worst.score:
            worst = current
    return worst


def merge_sentiment(card: dict[str, Any], text: str) -> float:
    """Fold a new subscriber message into the card's sentiment; returns the (lowest) score."""
    current = analyse(text)
    stored = card.get("sentiment") or {}
    score = float(stored.get("score", 0.0))
    if current.score < score:
        card["sentiment"] = current.to_dict()
        score = current.score
    else:
        card["sentiment"] = {**stored, "score": score, "label": label_for(score)}
    return score


def summary_line(
    kb: KnowledgeBase, lang: str, *, topic: str | None, entities: dict[str, str], quote: str
) -> str:
    parts = []
    if topic:
        try:
            parts.append(kb.intent_label(topic, lang))
        except KeyError:
            parts.append(topic)
    parts += [f"{name}: {value}" for name, value in entities.items()]
    head = " · ".join(parts)
    if quote:
        quoted = quote if len(quote) <= SUMMARY_QUOTE else quote[: SUMMARY_QUOTE - 1] + "…"
        return f"{head} — «{quoted}»" if head else f"«{quoted}»"
    return head or "—"


def _topic(understood: Sequence[Message]) -> str | None:
    for message in reversed(understood):
        if message.intent and intent_family(message.intent) not in _NOT_A_TOPIC:
            return message.intent
    return understood[-1].intent if understood else None


def _entities(understood: Sequence[Message]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for message in understood:
        for entity in (message.nlu or {}).get("entities", ()):
            if isinstance(entity, dict) and entity.get("name") and entity.get("value"):
                merged[str(entity["name"])] = str(entity["value"])
    return merged


def _quote(inbound: Sequence[Message], topic: str | None) -> str:
    for message in reversed(inbound):
        if topic and message.intent == topic and message.text:
            return " ".join(message.text.split())
    for message in reversed(inbound):
        if message.text and message.text.strip():
            return " ".join(message.text.split())
    return ""


def _intent_entry(message: Message) -> dict[str, Any]:
    nlu = message.nlu or {}
    return {
        "message_id": message.id,
        "text": message.text,
        "intent": message.intent,
        "confidence": message.confidence,
        "entities": {
            str(e["name"]): str(e["value"])
            for e in nlu.get("entities", ()) if isinstance(e, dict) and "name" in e
        },
        "ranking": [
            {"intent": s.get("name"), "confidence": s.get("confidence")}
            for s in nlu.get("ranking", ())[:3] if isinstance(s, dict)
        ],
    }
