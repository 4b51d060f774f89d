"""One customer across channels, on a real database (SQLite, and PostgreSQL with
TEST_DATABASE_URL): a number verified on two channels links both identities; a new number, a
logout and an expired verification unlink; open conversations follow; the code key matters."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.customers import VerifiedVia, link_phone, unlink
from bot.personal import PersonalData
from bot.storage import (
    Conversation,
    ConversationState,
    Customer,
    Database,
    Identity,
    VerificationEvent,
)
from bot.verification import VerificationService

PHONE = "+375291234567"
OTHER = "+375297654321"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def new_identity(db: Database, channel: str, user: str) -> int:
    async with db.transaction() as session:
        customer = Customer()
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel=channel, channel_user_id=user,
                            address=user)
        session.add(identity)
        await session.flush()
        session.add(Conversation(id=f"c-{identity.id}", customer_id=customer.id,
                                 identity_id=identity.id, channel=channel,
                                 state=ConversationState.BOT, context={}))
        return identity.id


async def link(db: Database, identity_id: int, phone: str) -> int:
    async with db.transaction() as session:
        return await link_phone(session, identity_id, phone, via=VerifiedVia.SMS_CODE, now=NOW)


async def customer_of(db: Database, identity_id: int) -> tuple[int, int]:
    """(the identity's customer, its open conversation's customer)"""
    async with db.sessions() as session:
        identity = await session.get(Identity, identity_id)
        conversation = await session.get(Conversation, f"c-{identity_id}")
    assert identity is not None and conversation is not None
    return identity.customer_id, conversation.customer_id


async def test_one_number_on_two_channels_is_one_customer(db: Database) -> None:
    web = await new_identity(db, "webchat", "web-1")
    telegram = await new_identity(db, "telegram", "42")
    first = await link(db, web, PHONE)
    second = await link(db, telegram, PHONE)
    assert first == second
    assert await customer_of(db, web) == (first, first)
    assert await customer_of(db, telegram) == (first, first), "the open conversation follows"
    async with db.sessions() as session:
        owners = (await session.scalars(
            select(Customer.id).where(Customer.verified_phone == PHONE))).all()
        identity = await session.get(Identity, telegram)
    assert owners == [first]
    assert identity is not None and identity.verified_via == "sms_code"
    assert identity.verified_at is not None


async def test_a_new_number_moves_the_identity_away_from_the_old_customer(db: Database) -> None:
    web = await new_identity(db, "webchat", "web-2")
    telegram = await new_identity(db, "telegram", "43")
    shared = await link(db, web, PHONE)
    await link(db, telegram, PHONE)
    moved = await link(db, telegram, OTHER)
    assert moved != shared
    assert (await customer_of(db, web))[0] == shared, "the other channel keeps the number"
    async with db.sessions() as session:
        customer = await session.get(Customer, moved)
    assert customer is not None and customer.verified_phone == OTHER


async def test_unlink_leaves_the_verified_customer_with_its_number(db: Database) -> None:
    web = await new_identity(db, "webchat", "web-3")
    telegram = await new_identity(db, "telegram", "44")
    shared = await link(db, web, PHONE)
    await link(db, telegram, PHONE)
    async with db.transaction() as session:
        assert await unlink(session, web)
    own, conversation = await customer_of(db, web)
    assert own != shared and conversation == own
    assert (await customer_of(db, telegram))[0] == shared
    async with db.sessions() as session:
        identity = await session.get(Identity, web)
        customer = await session.get(Customer, shared)
    assert identity is not None and identity.verified_phone is None
    assert identity.verified_at is None and identity.verified_via is None
    assert customer is not None and customer.verified_phone == PHONE
    assert await link(db, web, PHONE) == shared, "verifying again links back to the history"


async def test_unlink_of_an_unknown_identity_says_so(db: Database) -> None:
    async with db.transaction() as session:
        assert not await unlink(session, 10**9)


async def test_two_channels_verifying_one_number_at_once_make_one_customer(
    db: Database,
) -> None:
    identities = [await new_identity(db, "webchat", f"web-race-{i}") for i in range(4)]
    owners = await asyncio.gather(*(link(db, identity, PHONE) for identity in identities))
    assert len(set(owners)) == 1


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class NoBilling:
    async def subscriber(self, msisdn: str) -> None:
        raise AssertionError("not called")


async def test_a_verification_lapses_after_its_channel_time(db: Database) -> None:
    clock = Clock()
    verification = VerificationService(db, _NoSms(), message=str, clock=clock)
    personal = PersonalData(NoBilling(), verification,  # type: ignore[arg-type]
                            ttls={"webchat": timedelta(hours=12), "default": timedelta(days=90)},
                            clock=clock)
    web = await new_identity(db, "webchat", "web-ttl")
    telegram = await new_identity(db, "telegram", "45")
    await link(db, web, PHONE)
    await link(db, telegram, PHONE)
    clock.now = NOW + timedelta(hours=11)
    assert await personal.current_phone(web, "webchat", PHONE, NOW) == PHONE
    clock.now = NOW + timedelta(hours=13)
    assert await personal.current_phone(web, "webchat", PHONE, NOW) is None
    assert await personal.current_phone(telegram, "telegram", PHONE, NOW) == PHONE
    async with db.sessions() as session:
        identity = await session.get(Identity, web)
        lapsed = (await session.scalars(select(VerificationEvent.event).where(
            VerificationEvent.identity_id == web))).all()
    assert identity is not None and identity.verified_phone is None
    assert lapsed == ["lapsed"]
    clock.now = NOW + timedelta(days=91)
    assert await personal.current_phone(telegram, "telegram", PHONE, NOW) is None


class _NoSms:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, to: str, text: str) -> None:
        self.sent.append(text)


async def test_the_server_key_is_part_of_the_code_hash(db: Database) -> None:
    """A database copy with the code's hash does not verify a code under another key."""
    sms = _NoSms()
    identity = await new_identity(db, "webchat", "web-key")
    with_key = VerificationService(db, sms, message=str, code_key=b"k1" * 16)
    assert (await with_key.request_code(identity, PHONE)).status == "sent"
    code = sms.sent[-1]
    assert re.fullmatch(r"\d{6}", code)
    other_key = VerificationService(db, sms, message=str, code_key=b"k2" * 16)
    assert (await other_key.check_code(identity, code)).status == "wrong"
    assert (await with_key.check_code(identity, code)).status == "verified"
