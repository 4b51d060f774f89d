"""One customer across channels: a number verified on two channels links both identities.

``link_phone`` marks an identity verified and moves it to the customer that owns the number
(``customers.verified_phone`` is unique): the customer already verified with it on another
channel, else its own customer when that has no other number, else a new customer. The
identity's conversations that are still open move with it, so the agent's card and the
repeat-contact figures see one person. ``unlink`` ends a verification ("выйти", expiry): the
identity leaves for a customer of its own, so nobody who only holds this browser or chat
afterwards is shown as, or with the history of, the verified person.

Both run inside the caller's transaction. On PostgreSQL an advisory lock on the number keeps two
channels verifying the same number at once from both creating its customer; SQLite has one
writer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import LOCK_ROW, Conversation, ConversationState, Customer, Identity


class VerifiedVia:
    """``identities.verified_via`` values."""

    SMS_CODE = "sms_code"  # a one-time code sent by SMS (any channel)
    CONTACT = "contact"  # the platform proved the shared phone is the user's own (Telegram)


async def link_phone(
    session: AsyncSession, identity_id: int, phone: str, *, via: str, now: datetime
) -> int:
    """Mark the identity verified with ``phone`` (E.164) and link it to that number's customer;
    returns the customer id. LookupError for an unknown identity."""
    # the identity first, then the number: the order bot.verification takes them in
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's driver opens the transaction at the first write: writing first takes the
        # database's write lock before the number's owner is read
        await session.execute(
            update(Identity).where(Identity.id == identity_id)
            .values(verified_phone=Identity.verified_phone)
            .execution_options(synchronize_session=False)
        )
    identity = await session.get(Identity, identity_id, with_for_update=LOCK_ROW)
    if identity is None:
        raise LookupError(f"no identity {identity_id}")
    await lock_phone(session, phone)
    owner = await session.scalar(select(Customer.id).where(Customer.verified_phone == phone))
    if owner is None:
        current = await session.get(Customer, identity.customer_id)
        if current is not None and current.verified_phone is None:
            current.verified_phone = phone
            owner = current.id
        else:  # the customer is someone verified with another number: this is someone else
            lang = current.lang if current is not None else None
            owner = await _new_customer(session, lang, phone)
    if owner != identity.customer_id:
        await _move(session, identity, owner)
    identity.verified_phone = phone
    identity.verified_at = now
    identity.verified_via = via
    await session.flush()
    return owner


async def unlink(session: AsyncSession, identity_id: int) -> bool:
    """End the identity's verification and give it a customer of its own when it shares one;
    False for an unknown identity."""
    identity = await session.get(Identity, identity_id, with_for_update=LOCK_ROW)
    if identity is None:
        return False
    customer = await session.get(Customer, identity.customer_id)
    # the verified customer (and its history) stays with the number: verifying it again on
    # any channel links back to it
    if (customer is not None and customer.verified_phone is not None) or await _shares_customer(
        session, identity
    ):
        lang = customer.lang if customer is not None else None
        await _move(session, identity, await _new_customer(session, lang, None))
    identity.verified_phone = None
    identity.verified_at = None
    identity.verified_via = None
    await session.flush()
    return True


async def lock_phone(session: AsyncSession, phone: str) -> None:
    """Serialise work on one number until the transaction ends (PostgreSQL; a no-op on SQLite,
    whose single writer serialises it already)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                              {"key": phone_lock_key(phone)})


def phone_lock_key(phone: str) -> int:
    """A PostgreSQL advisory lock key (signed 64 bits) for one number."""
    digest = hashlib.sha256(b"abonent.verification:" + phone.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _new_customer(session: AsyncSession, lang: str | None, phone: str | None) -> int:
    customer = Customer(lang=lang, verified_phone=phone)
    session.add(customer)
    await session.flush()
    return customer.id


async def _move(session: AsyncSession, identity: Identity, customer_id: int) -> None:
    identity.customer_id = customer_id
    # open conversations follow the person; closed ones stay with whom they were then
    await session.execute(
        update(Conversation)
        .where(Conversation.identity_id == identity.id,
               Conversation.state != ConversationState.CLOSED)
        .values(customer_id=customer_id)
        .execution_options(synchronize_session=False)
    )


async def _shares_customer(session: AsyncSession, identity: Identity) -> bool:
    other = await session.scalar(
        select(Identity.id)
        .where(Identity.customer_id == identity.customer_id, Identity.id != identity.id)
        .limit(1)
    )
    return other is not None
