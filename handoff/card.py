"""The context card: everything the bot learned, so the agent never asks the subscriber to
repeat it. Built once at escalation (stored on the handoff); the transcript is read live."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import Conversation, Customer, Identity, Message
from handoff.sentiment import NEUTRAL, Sentiment, analyse, label_for
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
    customer = await session.get(Customer, conversation.customer_id)
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
    phone = (identity.verified_phone if identity else None) or (
        customer.verified_phone if customer else None
    )
    return {
        "channel": conversation.channel,
        "lang": lang,
        "identity": {
            "channel_user_id": identity.channel_user_id if identity else None,
            "display_name": identity.display_name if identity else None,
            "verified_phone": phone,
        },
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
