"""The context card shows the verified customer (#12): who they are (an alias, never the
channel's user id), whether and how their number is proven, and their other channels and
conversations, read live through the desk API (SQLite and PostgreSQL).

Customers, identities, conversations and messages are written directly (verifying and linking
are not the desk's job); the handoff comes from the desk's own hooks, as the core calls them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.messages import utcnow
from bot.storage import Conversation, ConversationState, Customer, Database, Identity, Message
from handoff.auth import AgentInfo
from handoff.card import identity_alias
from handoff.tables import Agent, Handoff, HandoffStatus
from handoff.views import DeskViews
from knowledge_base import load_knowledge_base
from tests.support.app import new_user
from tests.support.desk import Agent as DeskAgent
from tests.support.desk import Desk
from tests.support.sql import counted

PHONE = "+375291234567"
READABLE = "+375 29 123-45-67"
TELEGRAM_USER = "73920518466"  # digits no id or time of these tests contains
UNKNOWN = "у меня странная проблема"  # no keyword the bot knows while the NLU is down


@dataclass
class Linked:
    """A customer who proved one number on the web chat (SMS code) and on Telegram (contact)."""

    customer_id: int
    web: int  # identity ids
    telegram: int
    web_user: str
    current: str  # the web chat conversation that goes to the desk
    earlier: str  # Telegram, yesterday, about roaming; an agent closed its handoff


async def add_conversation(
    db: Database, identity_id: int, *, started: datetime, intents: list[str | None],
    state: str = ConversationState.BOT, handoff: str | None = None, agent_id: int | None = None,
) -> str:
    """A conversation with one processed inbound message per intent (None: not understood)
    and, when ``handoff`` names a status, a handoff in that status."""
    async with db.transaction() as session:
        identity = await session.get(Identity, identity_id)
        assert identity is not None
        conversation = Conversation(
            id=uuid.uuid4().hex, customer_id=identity.customer_id, identity_id=identity.id,
            channel=identity.channel, state=state, lang="ru", misunderstandings=0, context={},
            created_at=started, updated_at=started,
        )
        session.add(conversation)
        await session.flush()
        for n, intent in enumerate(intents):
            at = started + timedelta(seconds=n)
            session.add(Message(
                conversation_id=conversation.id, direction="in", sender="subscriber",
                channel=identity.channel, identity_id=identity.id,
                channel_message_id=uuid.uuid4().hex, text=f"message {n}", intent=intent,
                confidence=0.9 if intent else None, lang="ru", processed_at=at, created_at=at,
            ))
        if handoff is not None:
            ended = handoff in HandoffStatus.ENDED
            session.add(Handoff(
                conversation_id=conversation.id, status=handoff, reason="subscriber_request",
                channel=identity.channel, lang="ru", card={}, agent_id=agent_id,
                created_at=started, claimed_at=started if agent_id else None,
                ended_at=started + timedelta(minutes=5) if ended else None,
            ))
        return conversation.id


async def linked_customer(db: Database) -> Linked:
    now = utcnow()
    web_user = new_user()
    async with db.transaction() as session:
        customer = Customer(lang="ru", verified_phone=PHONE)
        session.add(customer)
        await session.flush()
        web = Identity(customer_id=customer.id, channel="webchat", channel_user_id=web_user,
                       address=web_user, verified_phone=PHONE,
                       verified_at=now - timedelta(minutes=3), verified_via="sms_code")
        telegram = Identity(customer_id=customer.id, channel="telegram",
                            channel_user_id=TELEGRAM_USER, address=TELEGRAM_USER,
                            verified_phone=PHONE, verified_at=now - timedelta(days=1),
                            verified_via="contact")
        session.add_all([web, telegram])
        await session.flush()
        ids = (customer.id, web.id, telegram.id)
    earlier = await add_conversation(
        db, ids[2], started=now - timedelta(days=1), state=ConversationState.CLOSED,
        intents=["greet", "roaming_trouble", "thanks"], handoff=HandoffStatus.CLOSED,
    )
    current = await add_conversation(db, ids[1], started=now - timedelta(minutes=1),
                                     intents=["check_balance", None])
    return Linked(*ids, web_user=web_user, current=current, earlier=earlier)


async def escalate(desk: Desk, conversation_id: str) -> None:
    async with desk.services.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        await desk.module.hooks.escalate(session, conversation, reason="subscriber_request",
                                         lang="ru")


async def detail(desk: Desk, agent: DeskAgent, conversation_id: str) -> tuple[dict[str, Any], str]:
    """The desk's answer for one conversation, parsed and as the raw JSON text."""
    response = await desk.http.get(f"/api/desk/conversations/{conversation_id}",
                                   headers=agent.headers)
    assert response.status_code == 200, response.text
    return response.json(), response.text


async def test_the_card_shows_the_verified_customer_and_their_other_channel(
    desk_app: Desk,
) -> None:
    linked = await linked_customer(desk_app.services.db)
    await escalate(desk_app, linked.current)
    agent = await desk_app.create_agent("anna")

    body, raw = await detail(desk_app, agent, linked.current)
    identity = body["card"]["identity"]
    assert identity["verified"] is True
    assert identity["verified_phone"] == READABLE
    assert identity["verified_via"] == "sms_code"
    assert identity["verified_at"].endswith("Z")
    assert identity["alias"] == identity_alias(linked.web) and identity["display_name"] is None

    [other] = body["card"]["other_identities"]
    assert other == {"channel": "telegram", "alias": identity_alias(linked.telegram),
                     "display_name": None, "verified": True, "verified_via": "contact"}
    [recent] = body["card"]["recent_conversations"]
    assert recent["conversation_id"] == linked.earlier
    assert recent["channel"] == "telegram" and recent["state"] == "closed"
    assert recent["topic"] == "roaming_trouble", "the topic, not the trailing thanks"
    assert recent["had_handoff"] is True
    assert recent["can_open"] is False, "an agent may not open a colleague's closed handoff"
    for secret in (linked.web_user, TELEGRAM_USER, "channel_user_id"):
        assert secret not in raw

    # the queue carries the same identity and no other customer data
    queue = await desk_app.http.get("/api/desk/queue", headers=agent.headers)
    [item] = queue.json()["waiting"]
    assert item["card"]["identity"] == identity
    assert "recent_conversations" not in item["card"], "the queue stays light"
    for secret in (linked.web_user, TELEGRAM_USER, "channel_user_id"):
        assert secret not in queue.text

    # a supervisor may open any handoff, so the earlier conversation opens for them
    olga = await desk_app.create_agent("olga", role="supervisor")
    body, _ = await detail(desk_app, olga, linked.current)
    assert body["card"]["recent_conversations"][0]["can_open"] is True
    earlier, _ = await detail(desk_app, olga, linked.earlier)
    assert earlier["status"] == "closed"
    assert [r["conversation_id"] for r in earlier["card"]["recent_conversations"]] == [
        linked.current], "seen from Telegram, the web chat is the other conversation"


async def test_the_app_labels_the_topics_of_the_other_conversations(desk_app: Desk) -> None:
    linked = await linked_customer(desk_app.services.db)
    await escalate(desk_app, linked.current)
    agent = await desk_app.create_agent("anna")
    body, _ = await detail(desk_app, agent, linked.current)
    [recent] = body["card"]["recent_conversations"]
    assert recent["topic_label"] == "Не работает связь в роуминге"


async def test_the_stored_card_keeps_no_number_and_the_desk_follows_the_database(
    desk_app: Desk,
) -> None:
    linked = await linked_customer(desk_app.services.db)
    await escalate(desk_app, linked.current)
    async with desk_app.services.db.sessions() as session:
        stored = (await session.scalars(
            select(Handoff).where(Handoff.conversation_id == linked.current))).one().card
    text = json.dumps(stored)
    assert stored["identity"]["verified"] is True
    assert "verified_phone" not in stored["identity"]
    assert "291234567" not in text and linked.web_user not in text

    # after the escalation: the subscriber logs out on the web chat, and a VK identity with a
    # conversation of its own is linked to the customer
    async with desk_app.services.db.transaction() as session:
        await session.execute(update(Identity).where(Identity.id == linked.web)
                              .values(verified_phone=None))
        vk_customer = Customer(lang="ru")
        session.add(vk_customer)
        await session.flush()
        vk = Identity(customer_id=vk_customer.id, channel="vk", channel_user_id="vk-4242",
                      address="vk-4242", display_name="Анна Ковалёва")
        session.add(vk)
        await session.flush()
        vk_id = vk.id
    vk_conversation = await add_conversation(desk_app.services.db, vk_id,
                                             started=utcnow() - timedelta(hours=2),
                                             intents=["my_number"])
    async with desk_app.services.db.transaction() as session:
        await session.execute(update(Identity).where(Identity.id == vk_id)
                              .values(customer_id=linked.customer_id))

    agent = await desk_app.create_agent("anna")
    body, raw = await detail(desk_app, agent, linked.current)
    identity = body["card"]["identity"]
    assert identity["verified"] is False
    assert identity["verified_phone"] is None and identity["verified_via"] is None
    assert "291234567" not in raw, "no number once logged out"
    assert "vk-4242" not in raw
    assert [(o["channel"], o["display_name"]) for o in body["card"]["other_identities"]] == [
        ("telegram", None), ("vk", "Анна Ковалёва")]
    assert [r["conversation_id"] for r in body["card"]["recent_conversations"]] == [
        vk_conversation, linked.earlier], "newest first, on every linked channel"


async def test_an_unverified_web_visitor_has_an_alias_and_no_user_id(desk_app: Desk) -> None:
    user = new_user()
    answer = await desk_app.say(user, UNKNOWN)
    if answer["state"] != "waiting_agent":  # not understood once: the second time hands over
        answer = await desk_app.say(user, UNKNOWN)
    assert answer["state"] == "waiting_agent"
    conversation = answer["conversation_id"]
    agent = await desk_app.create_agent("anna")

    body, raw = await detail(desk_app, agent, conversation)
    identity = body["card"]["identity"]
    async with desk_app.services.db.sessions() as session:
        identity_id = await session.scalar(
            select(Identity.id).where(Identity.channel == "webchat",
                                      Identity.channel_user_id == user))
    assert identity_id is not None
    assert identity == {"alias": identity_alias(identity_id), "display_name": None,
                        "verified": False, "verified_phone": None, "verified_via": None,
                        "verified_at": None}
    assert body["card"]["other_identities"] == [] and body["card"]["recent_conversations"] == []
    assert user not in raw and "channel_user_id" not in raw
    queue = await desk_app.http.get("/api/desk/queue", headers=agent.headers)
    assert user not in queue.text and "channel_user_id" not in queue.text


def test_the_alias_is_short_stable_and_tells_identities_apart() -> None:
    aliases = {identity_alias(n) for n in range(1, 101)}
    assert all(len(a) == 4 and set(a) <= set("0123456789abcdef") for a in aliases)
    assert identity_alias(7) == identity_alias(7)
    assert len(aliases) > 95, "100 identities, hardly any two alike"


async def test_recent_conversations_are_the_latest_five_in_a_constant_number_of_queries(
    db: Database,
) -> None:
    linked = await linked_customer(db)
    async with db.transaction() as session:
        anna = Agent(username="anna", role="agent", password_hash="-")
        boris = Agent(username="boris", role="agent", password_hash="-")
        session.add_all([anna, boris])
        await session.flush()
        anna_id, boris_id = anna.id, boris.id
        session.add(Handoff(conversation_id=linked.current, status=HandoffStatus.WAITING,
                            reason="subscriber_request", channel="webchat", lang="ru",
                            card={"lang": "ru"}, created_at=utcnow()))
    views = DeskViews(db, load_knowledge_base())
    viewer = AgentInfo(id=anna_id, username="anna", role="agent")
    await views.conversation(viewer, linked.current)  # warm the pool: no connect in the counts

    with counted(db) as few:
        small = await views.conversation(viewer, linked.current)
    [earlier] = small.card.recent_conversations
    assert earlier.topic == "roaming_trouble"
    assert earlier.topic_label == "Не работает связь в роуминге"

    # a long history on more linked channels: the card lists the newest five, each as this
    # agent may open it, and reads them with as many queries as before
    now = utcnow()
    async with db.transaction() as session:
        extra = [Identity(customer_id=linked.customer_id, channel="email",
                          channel_user_id=f"anna{n}@example.test",
                          address=f"anna{n}@example.test") for n in range(3)]
        session.add_all(extra)
        await session.flush()
        extra_ids = [i.id for i in extra]
    newest = [
        await add_conversation(db, extra_ids[0], started=now - timedelta(minutes=10),
                               intents=["roaming_prices"], handoff=HandoffStatus.ACTIVE,
                               agent_id=anna_id),
        await add_conversation(db, extra_ids[1], started=now - timedelta(minutes=20),
                               intents=["thanks"], handoff=HandoffStatus.ACTIVE,
                               agent_id=boris_id),
        await add_conversation(db, extra_ids[2], started=now - timedelta(minutes=30),
                               intents=["complaint"], handoff=HandoffStatus.WAITING),
        await add_conversation(db, linked.web, started=now - timedelta(minutes=40),
                               intents=[None]),
        await add_conversation(db, linked.telegram, started=now - timedelta(hours=3),
                               intents=["check_balance", "greet"]),
    ]
    for hours in (30, 40):  # older than the one from yesterday: not listed
        await add_conversation(db, linked.telegram, started=now - timedelta(hours=hours),
                               intents=["my_number"])

    with counted(db) as many:
        big = await views.conversation(viewer, linked.current)
    assert len(many) == len(few), "queries must not grow with the customer's history"
    recent = big.card.recent_conversations
    assert [r.conversation_id for r in recent] == newest
    assert [(r.topic, r.topic_label) for r in recent] == [
        ("roaming_prices", "Цены в роуминге"), (None, None), ("complaint", "Жалоба"),
        (None, None), ("check_balance", "Баланс")]
    assert [(r.had_handoff, r.can_open) for r in recent] == [
        (True, True), (True, False), (True, True), (False, False), (False, False)]
    assert [o.channel for o in big.card.other_identities] == [
        "telegram", "email", "email", "email"]
    assert len({o.alias for o in big.card.other_identities}) == 4
