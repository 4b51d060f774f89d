"""A seeded history for the analytics tests, written directly into the database, with every
figure's answer known (worked out by hand in tests/handoff/test_analytics.py).

Two days in DESK_TIMEZONE (Europe/Minsk, UTC+3), twenty days ago: ``day1`` and ``day2``; one
conversation the day before (outside the period) and one five days after (a repeat contact
after the period).

Customers: C1 proved a number (web chat ``web1`` and Telegram ``tg1`` are one customer);
C2 has two web chat identities (``web2``, ``web2b``) but no proven number, so they stay two
people for repeat contacts; C3 is one Telegram identity ``tg3``.

| conv | who   | when (local)   | messages (text, intent)                          | handoff |
|------|-------|----------------|--------------------------------------------------|---------|
| K0   | web2b | day0 23:59     | баланс / check_balance                            | H0 complaint, boris, 10 s, closed, rated 2 |
| K1   | web1  | day1 09:10     | Привет / greet; Роуминг не работает / roaming_trouble | — |
| K2   | tg1   | day1 12:00     | роуминг / roaming                                 | H2 topic_needs_agent, anna, 60 s, closed "explained", 5 |
| K3   | web2  | day1 09:30     | баланс / check_balance                            | — |
| K4   | web2b | day1 10:00     | Баланс / check_balance                            | — |
| K5   | web2  | day2 09:00     | баланс опять / check_balance; Спасибо, отлично! / thanks | H5 subscriber_request, anna, 240 s, closed without resolution, 4 |
| K6   | tg3   | day1 10:15     | =SUM(A1:A9) / nlu_fallback; Где мой   роутер?! / nlu_fallback | H6 not_understood_twice, boris, 30 s, closed "ok", 1 |
| K7   | web1  | day2 14:00     | Вы меня достали, мошенники!!! / complaint          | H7 complaint, still waiting |
| K8   | tg3   | day2 10:20     | где мой роутер / out_of_scope                     | H8 subscriber_request, cancelled after 20 s |
| K9   | web1  | day1 + 5 days  | роуминг снова / roaming_trouble                   | — |
| K10  | web2b | day2 23:30     | тариф / tariff                                    | H10 nlu_unavailable, anna, returned after 600 s unanswered |
| K11  | tg3   | day2 16:45     | баланс / check_balance; очень плохо / none (NLU down); xyzzy / none (NLU answered) | H11 subscriber_request, boris, 180 s, closed "done", 3 |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.messages import utcnow
from bot.storage import Conversation, ConversationState, Customer, Database, Identity, Message
from handoff.tables import Agent, Handoff, HandoffStatus

ZONE = ZoneInfo("Europe/Minsk")
PHONE = "+375291234567"
FORMULA = "=SUM(A1:A9)"

Said = tuple[str, str | None] | tuple[str, str | None, dict[str, Any]]


@dataclass(frozen=True)
class History:
    day1: date
    day2: date
    conversations: dict[str, str]  # "K1" -> conversation id


@dataclass(frozen=True)
class HandoffSpec:
    reason: str
    status: str
    agent: str | None = None
    wait: float | None = None
    ended_after: float | None = None  # seconds after the escalation
    resolution: str | None = None
    rating: int | None = None


def local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


async def _identity(session: Any, customer: Customer, channel: str, *,
                    phone: str | None = None) -> Identity:
    user = uuid.uuid4().hex
    identity = Identity(customer_id=customer.id, channel=channel, channel_user_id=user,
                        address=user, verified_phone=phone,
                        verified_at=utcnow() if phone else None,
                        verified_via="sms_code" if phone else None)
    session.add(identity)
    await session.flush()
    return identity


async def _conversation(
    session: Any, identity: Identity, started: datetime, said: list[Said],
    handoff: HandoffSpec | None, agents: dict[str, int],
) -> str:
    conversation = Conversation(
        id=uuid.uuid4().hex, customer_id=identity.customer_id, identity_id=identity.id,
        channel=identity.channel, lang="ru", misunderstandings=0, context={},
        state=ConversationState.CLOSED if handoff else ConversationState.BOT,
        created_at=started, updated_at=started,
    )
    session.add(conversation)
    await session.flush()
    for n, item in enumerate(said):
        text, intent = item[0], item[1]
        nlu = item[2] if len(item) > 2 else (
            {"text": text, "intent": intent, "confidence": 0.9} if intent else None)
        at = started + timedelta(seconds=n)
        session.add(Message(
            conversation_id=conversation.id, direction="in", sender="subscriber",
            channel=identity.channel, identity_id=identity.id,
            channel_message_id=uuid.uuid4().hex, text=text, intent=intent, nlu=nlu,
            confidence=0.9 if intent else None, lang="ru", processed_at=at, created_at=at,
        ))
        session.add(Message(  # the bot's answer: outbound, never counted
            conversation_id=conversation.id, direction="out", sender="bot",
            channel=identity.channel, text="Вы меня достали!!! (the bot's line)",
            created_at=at, processed_at=at,
        ))
    if handoff is not None:
        agent_id = agents[handoff.agent] if handoff.agent else None
        session.add(Handoff(
            conversation_id=conversation.id, status=handoff.status, reason=handoff.reason,
            channel=identity.channel, lang="ru", card={}, agent_id=agent_id,
            created_at=started,
            claimed_at=started if agent_id else None,
            first_reply_at=(started + timedelta(seconds=handoff.wait)
                            if handoff.wait is not None else None),
            wait_seconds=handoff.wait,
            ended_at=(started + timedelta(seconds=handoff.ended_after)
                      if handoff.ended_after is not None else None),
            resolution=handoff.resolution, rating=handoff.rating,
        ))
    return conversation.id


async def seed_history(db: Database) -> History:
    """Writes the history above; the agents ``anna`` and ``boris`` must exist."""
    today = utcnow().astimezone(ZONE).date()
    day1 = today - timedelta(days=20)
    day2, day0 = day1 + timedelta(days=1), day1 - timedelta(days=1)
    async with db.transaction() as session:
        agents = {username: agent_id for agent_id, username in await session.execute(
            select(Agent.id, Agent.username).where(Agent.username.in_(["anna", "boris"])))}
        c1, c2, c3 = Customer(lang="ru", verified_phone=PHONE), Customer(lang="ru"), \
            Customer(lang="ru")
        session.add_all([c1, c2, c3])
        await session.flush()
        web1 = await _identity(session, c1, "webchat", phone=PHONE)
        tg1 = await _identity(session, c1, "telegram", phone=PHONE)
        web2 = await _identity(session, c2, "webchat")
        web2b = await _identity(session, c2, "webchat")
        tg3 = await _identity(session, c3, "telegram")
        closed, waiting = HandoffStatus.CLOSED, HandoffStatus.WAITING
        plan: list[tuple[str, Identity, datetime, list[Said], HandoffSpec | None]] = [
            ("K0", web2b, local(day0, 23, 59), [("баланс", "check_balance")],
             HandoffSpec("complaint", closed, "boris", 10, 300, "fixed", 2)),
            ("K1", web1, local(day1, 9, 10),
             [("Привет", "greet"), ("Роуминг не работает", "roaming_trouble")], None),
            ("K2", tg1, local(day1, 12, 0), [("роуминг", "roaming")],
             HandoffSpec("topic_needs_agent", closed, "anna", 60, 900, "explained", 5)),
            ("K3", web2, local(day1, 9, 30), [("баланс", "check_balance")], None),
            ("K4", web2b, local(day1, 10, 0), [("Баланс", "check_balance")], None),
            ("K5", web2, local(day2, 9, 0),
             [("баланс опять", "check_balance"), ("Спасибо, отлично!", "thanks")],
             HandoffSpec("subscriber_request", closed, "anna", 240, 900, None, 4)),
            ("K6", tg3, local(day1, 10, 15),
             [(FORMULA, "nlu_fallback"), ("Где мой   роутер?!", "nlu_fallback")],
             HandoffSpec("not_understood_twice", closed, "boris", 30, 600, "ok", 1)),
            ("K7", web1, local(day2, 14, 0),
             [("Вы меня достали, мошенники!!!", "complaint")],
             HandoffSpec("complaint", waiting)),
            ("K8", tg3, local(day2, 10, 20), [("где мой роутер", "out_of_scope")],
             HandoffSpec("subscriber_request", HandoffStatus.CANCELLED, ended_after=20)),
            ("K9", web1, local(day1 + timedelta(days=5), 10, 0),
             [("роуминг снова", "roaming_trouble")], None),
            ("K10", web2b, local(day2, 23, 30), [("тариф", "tariff")],
             HandoffSpec("nlu_unavailable", HandoffStatus.RETURNED, "anna", ended_after=600)),
            ("K11", tg3, local(day2, 16, 45),
             [("баланс", "check_balance"), ("очень плохо", None),
              ("xyzzy", None, {"text": "xyzzy", "intent": None, "ranking": []})],
             HandoffSpec("subscriber_request", closed, "boris", 180, 700, "done", 3)),
        ]
        ids = {}
        for name, identity, started, said, handoff in plan:
            ids[name] = await _conversation(session, identity, started, said, handoff, agents)
    return History(day1=day1, day2=day2, conversations=ids)
