"""A press on a button whose payload was too long for the platform is resolved from the database."""

from __future__ import annotations

import uuid

from bot.storage import Conversation, Customer, Database, Identity, Message
from channels.telegram.payloads import callback_data, telegram_payloads

LONG = '/roaming_prices{"country": "Соединённые Штаты Америки"}'


async def reply_with_buttons(db: Database, user_id: str, payloads: list[str]) -> None:
    async with db.transaction() as session:
        customer = Customer()
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel="telegram",
                            channel_user_id=user_id, address=user_id)
        session.add(identity)
        await session.flush()
        conversation = Conversation(id=uuid.uuid4().hex, customer_id=customer.id,
                                    identity_id=identity.id, channel="telegram", context={})
        session.add(conversation)
        await session.flush()
        session.add(Message(
            conversation_id=conversation.id, direction="out", sender="bot", channel="telegram",
            text="Цены", buttons={"items": [{"title": p, "payload": p} for p in payloads],
                                  "request_phone": False}))


async def test_a_hashed_payload_is_found_among_the_subscribers_replies(db: Database) -> None:
    await reply_with_buttons(db, "5001", ["/check_balance", LONG])
    resolver = telegram_payloads(db)
    assert await resolver.resolve(callback_data(LONG), "5001") == LONG
    assert await resolver.resolve("/check_balance", "5001") == "/check_balance", "as it is"


async def test_it_is_not_found_for_someone_else_or_an_unknown_token(db: Database) -> None:
    await reply_with_buttons(db, "5001", [LONG])
    resolver = telegram_payloads(db)
    assert await resolver.resolve(callback_data(LONG), "6002") is None
    assert await resolver.resolve(callback_data(LONG + "!"), "5001") is None
