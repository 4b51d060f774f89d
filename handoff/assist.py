"""Agent assist: the knowledge-base articles most relevant to an open conversation, in the
subscriber's language, and a verified subscriber's live figures from the billing.

Relevance (``rank``) adds up three signals: the intents the bot saw (the handoff's card; the
newest counts most, the card's topic gets a bonus), the intent the keywords find in the
subscriber's latest message, and the words of that message found in the article's text and
title (stems, weighted by how rare a word is among the articles). Only articles a subscriber
could be sent are candidates: topics (not "hello" or "a person please"), never the personal
variants, rendered by ``kb.answer`` with the entities the bot saw, so a country fills the
country variant.

The figures are read live on every request, time-bounded, and never cached nor logged; a
billing that is missing or fails gives ``figures: None`` with a reason, never an error.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.backoffice_contract import Billing
from bot.storage import Database, Identity, Message
from handoff.assist_schemas import AssistOut, FiguresOut, FiguresReason, SuggestionOut
from handoff.auth import AgentInfo
from handoff.search.text import stems
from handoff.tables import AssistEvent, Handoff
from handoff.views import visible_handoff
from knowledge_base import KnowledgeBase
from knowledge_base.keywords import KeywordMatcher
from nlu.intents import family_of

log = logging.getLogger(__name__)

SUGGESTIONS = 3
FIGURES_SECONDS = 2.0  # the card must not wait for a slow billing
LATEST_MESSAGES = 5  # inbound messages read to find the latest one with words in it
MIN_WORD = 3  # shorter words ("в", "is", "my") say nothing about the topic

# weights of the signals (see the module docstring)
SEEN_EXACT = 3.0
SEEN_FAMILY = 1.0
SEEN_DECAY = 0.8  # each older message counts this much less
TOPIC_BONUS = 1.0
KEYWORD_EXACT = 2.5
KEYWORD_FAMILY = 0.8
TEXT_WEIGHT = 2.0
TITLE_WEIGHT = 0.5

SUGGESTED, INSERTED, SENT = "suggested", "inserted", "sent"


class UnknownArticle(ValueError):
    """Not an article the desk suggests."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article as it would be sent, with the stems its text and title are matched on."""

    article: str
    intent: str
    title: str
    text: str
    words: frozenset[str]
    title_words: frozenset[str]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the conversation says about its topic."""

    seen: Sequence[str] = ()  # intents the bot understood, oldest first
    topic: str | None = None
    keyword: str | None = None  # the keyword intent of the latest message
    text: str = ""  # the subscriber's latest message


@dataclass(slots=True)
class _Score:
    value: float = 0.0
    reasons: list[str] = field(default_factory=list)


# words that say nothing about a topic, stemmed as the text is (ru, be, en)
_STOP = frozenset(stems(
    "как какой какая какие что где когда почему зачем меня мне мой моя мое мои моего у вас ваш "
    "ваша это этот есть нет был была было можно нужно надо пожалуйста здравствуйте добрый день "
    "спасибо очень уже еще тоже или если для при про чтобы так там тут все всё "
    "які якая што дзе калі чаму мяне мне мой мая маё вы ваш гэта ёсць можна трэба калі ласка "
    "добры дзень дзякуй вельмі ужо яшчэ таксама або для каб усё "
    "what which where when why how who the and for you your yours are was were have has "
    "can could would please hello thanks thank with this that there not does did from about"
))


def _words(text: str) -> frozenset[str]:
    return frozenset(s for s in stems(text)
                     if len(s) >= MIN_WORD and not s.isdigit() and s not in _STOP)


def candidates(kb: KnowledgeBase, lang: str, entities: Mapping[str, str]) -> list[Candidate]:
    """Every topic's article as ``kb.answer`` renders it for these entities, one per intent."""
    found: dict[str, Candidate] = {}
    intents = dict.fromkeys(a.intent for a in kb.articles if not a.personal and kb.is_topic(a.intent))
    for intent in intents:
        answer = kb.answer(intent, entities, lang)
        if answer is None or answer.article_id in found:
            continue
        try:
            title = kb.intent_label(intent, lang)
        except KeyError:
            title = intent
        text = answer.text.strip()
        found[answer.article_id] = Candidate(answer.article_id, intent, title, text,
                                             _words(text), _words(title))
    return list(found.values())


def rank(pool: Sequence[Candidate], evidence: Evidence,
         limit: int = SUGGESTIONS) -> list[SuggestionOut]:
    """The ``limit`` best candidates with a positive score, best first (ties: KB order)."""
    scores = {c.article: _Score() for c in pool}
    for candidate in pool:
        _intent_signals(candidate, evidence, scores[candidate.article])
    _text_signal(pool, evidence.text, scores)
    best = sorted(
        (c for c in pool if scores[c.article].value > 0),
        key=lambda c: -scores[c.article].value,
    )[:limit]
    return [
        SuggestionOut(article=c.article, title=c.title, text=c.text,
                      score=round(scores[c.article].value, 3),
                      reason="; ".join(scores[c.article].reasons))
        for c in best
    ]


def _intent_signals(candidate: Candidate, evidence: Evidence, score: _Score) -> None:
    family = family_of(candidate.intent)
    seen, exact = 0.0, False
    for age, intent in enumerate(reversed(evidence.seen)):
        weight = SEEN_DECAY ** age
        if intent == candidate.intent:
            seen, exact = max(seen, SEEN_EXACT * weight), True
        elif family is not None and family_of(intent) == family:
            seen = max(seen, SEEN_FAMILY * weight)
    if seen:
        score.value += seen
        score.reasons.append(f"intent {candidate.intent}" if exact else f"family {family}")
    if evidence.topic == candidate.intent:
        score.value += TOPIC_BONUS
        if not seen:
            score.reasons.append(f"topic {candidate.intent}")
    if evidence.keyword == candidate.intent:
        score.value += KEYWORD_EXACT
        score.reasons.append(f"latest message: {candidate.intent}")
    elif evidence.keyword and family is not None and family_of(evidence.keyword) == family:
        score.value += KEYWORD_FAMILY
        score.reasons.append(f"latest message: {family}")


def _text_signal(pool: Sequence[Candidate], text: str, scores: dict[str, _Score]) -> None:
    """Words of the latest message in each article, a rare word counting more (idf); the
    share of the message's known words an article holds, so a long message is not favoured."""
    words = _words(text)
    if not words or not pool:
        return
    df = {w: sum(1 for c in pool if w in c.words or w in c.title_words) for w in words}
    idf = {w: math.log(1 + len(pool) / n) for w, n in df.items() if n}
    total = sum(idf.values())
    if not total:
        return
    for candidate in pool:
        matched = sorted(w for w in idf if w in candidate.words)
        titled = [w for w in idf if w in candidate.title_words]
        value = TEXT_WEIGHT * sum(idf[w] for w in matched) / total
        value += TITLE_WEIGHT * len(titled)
        if value:
            scores[candidate.article].value += value
            shown = sorted(set(matched) | set(titled))
            scores[candidate.article].reasons.append("words: " + ", ".join(shown))


@dataclass(frozen=True, slots=True)
class Figures:
    figures: FiguresOut | None
    reason: FiguresReason | None


class Assist:
    def __init__(
        self, db: Database, *, kb: KnowledgeBase, billing: Billing | None,
        figures_seconds: float = FIGURES_SECONDS, keywords: KeywordMatcher | None = None,
    ) -> None:
        """``billing`` None: no live figures (the card says so). ``figures_seconds`` bounds
        the billing call."""
        self._db = db
        self._kb = kb
        self._billing = billing
        self._figures_seconds = figures_seconds
        self._keywords = keywords or KeywordMatcher.default()
        self._suggest_lock = asyncio.Lock()  # "suggested" once per handoff and article
        self._article_ids = frozenset(a.id for a in kb.articles if not a.personal)

    async def suggest(self, viewer: AgentInfo, conversation_id: str) -> AssistOut:
        """Suggestions and figures for the conversation's current handoff (NotFound without
        one, Forbidden when ``viewer`` may not see it). Records each suggestion shown."""
        async with self._db.sessions() as session:
            conversation, handoff = await visible_handoff(session, viewer, conversation_id)
            identity = await session.get(Identity, conversation.identity_id)
            latest = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(LATEST_MESSAGES)
            )
            latest_text = next((m.text for m in latest if _words(m.text or "")), "")
            phone = identity.verified_phone if identity is not None else None
        lang = conversation.lang or handoff.lang
        card: dict[str, Any] = dict(handoff.card or {})
        suggestions = rank(candidates(self._kb, lang, _entities(card)),
                           self._evidence(card, latest_text))
        await self._record_suggested(handoff, viewer, [s.article for s in suggestions], lang)
        figures = await self._figures(phone)
        return AssistOut(conversation_id=conversation_id, handoff_id=handoff.id, lang=lang,
                         suggestions=suggestions, figures=figures.figures,
                         figures_reason=figures.reason)

    async def used(self, viewer: AgentInfo, conversation_id: str, article: str,
                   action: str) -> None:
        """The agent inserted an article into the reply box, or sent the reply holding it."""
        if article not in self._article_ids:
            raise UnknownArticle("no such article")
        async with self._db.transaction() as session:
            conversation, handoff = await visible_handoff(session, viewer, conversation_id)
            session.add(AssistEvent(handoff_id=handoff.id, agent_id=viewer.id, article=article,
                                    lang=conversation.lang or handoff.lang, action=action))

    def _evidence(self, card: Mapping[str, Any], latest_text: str) -> Evidence:
        seen = [str(e["intent"]) for e in card.get("intents") or ()
                if isinstance(e, dict) and e.get("intent")]
        keyword = self._keywords.match(latest_text) if latest_text else None
        topic = card.get("topic")
        return Evidence(seen=seen, topic=str(topic) if topic else None,
                        keyword=keyword.intent if keyword is not None else None,
                        text=latest_text)

    async def _record_suggested(self, handoff: Handoff, viewer: AgentInfo,
                                articles: list[str], lang: str) -> None:
        if not articles:
            return
        async with self._suggest_lock, self._db.transaction() as session:
            shown = set((await session.scalars(
                select(AssistEvent.article).where(AssistEvent.handoff_id == handoff.id,
                                                  AssistEvent.action == SUGGESTED)
            )).all())
            for article in articles:
                if article not in shown:
                    session.add(AssistEvent(handoff_id=handoff.id, agent_id=viewer.id,
                                            article=article, lang=lang, action=SUGGESTED))

    async def _figures(self, phone: str | None) -> Figures:
        if phone is None:
            return Figures(None, "not_verified")
        if self._billing is None:
            return Figures(None, "billing_unavailable")
        try:
            async with asyncio.timeout(self._figures_seconds):
                account = await self._billing.subscriber(phone.removeprefix("+"))
        except Exception as exc:  # noqa: BLE001 - down, slow, a bad answer: the card says so
            # the class only: a billing's message might carry the number
            log.warning("live figures for the desk unavailable: %s", type(exc).__name__)
            return Figures(None, "billing_failed")
        if account is None:
            return Figures(None, "not_a_subscriber")
        return Figures(FiguresOut(balance=str(account.balance.amount),
                                  currency=account.balance.currency, tariff=account.tariff,
                                  roaming_enabled=account.roaming_enabled,
                                  status=account.status), None)


def _entities(card: Mapping[str, Any]) -> dict[str, str]:
    raw = card.get("entities") or {}
    return {str(k): str(v) for k, v in raw.items() if v} if isinstance(raw, dict) else {}
