"""Verified identity end to end (#12), as its tests see it: the app aimed at a billing and an SMS
gateway of its own (the fakes of tests/backoffice, real HTTP on loopback), subscribers with
random numbers and balances, the one-time code read from the SMS the gateway received, and what
the database keeps.

One app per test module keeps these suites fast: a module's own ``database_url`` fixture gets its
database from ``database_for_test`` (tests/support/postgres.py, as tests/conftest.py does; SQLite,
or PostgreSQL when TEST_DATABASE_URL is set), and ``running_identity_app`` starts the app on it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.app import create_app
from bot.config import Settings
from bot.messages import utcnow
from bot.personal_policy import VERIFY_PAYLOAD
from bot.phones import normalise_phone
from bot.services import Services
from bot.storage import Database, Identity, Message, VerificationCode, affected_rows
from channels.web.channel import WEBCHAT
from nlu.server import RasaServer
from tests.backoffice.fake_billing import FakeBilling, FakeSubscriber, random_amount, random_msisdn
from tests.backoffice.fake_sms import FakeSmsGateway
from tests.support import channel_db
from tests.support.app import app_settings
from tests.support.servers import LiveServer
from tests.support.webchat import WebChatClient

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The params of a module's ``database_url`` fixture (see tests/support/postgres.py)."""

# "Готово: номер +375 29 123-45-67 подтверждён." (a code), "Номер подтверждён" (a Telegram
# contact), and not "номер в этом чате не подтверждён" (who am I, unverified)
_VERIFIED = re.compile(r"[Нн]омер(?: \+[0-9 \-]+)? подтверждён")
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")


# -- the app ---------------------------------------------------------------------------------

def identity_settings(billing: FakeBilling, sms: FakeSmsGateway) -> dict[str, object]:
    """Settings overrides that aim the app at the fakes. The web chat's rate limits are off:
    a whole module writes from 127.0.0.1."""
    assert billing.token is not None and sms.token is not None
    return {
        "billing_url": billing.url,
        "billing_token": SecretStr(billing.token),
        "sms_gateway_url": sms.url,
        "sms_gateway_token": SecretStr(sms.token),
        "webchat_rate_per_ip": 0,
        "webchat_rate_per_user": 0,
    }


@dataclass
class IdentityApp:
    """The running app, its fakes, and the web chat as a browser sees it (tokens kept)."""

    url: str
    http: httpx.AsyncClient
    services: Services
    settings: Settings
    billing: FakeBilling
    sms: FakeSmsGateway
    webchat: WebChatClient = field(init=False)

    def __post_init__(self) -> None:
        self.webchat = WebChatClient(self.http)

    @property
    def db(self) -> Database:
        return self.services.db

    async def say(self, user: str, text: str) -> dict[str, Any]:
        return await self.webchat.say(user, text)

    async def press(self, user: str, payload: str) -> dict[str, Any]:
        return await self.webchat.say(user, payload=payload)

    async def verify(self, user: str, subscriber: Subscriber, *, typed: str | None = None
                     ) -> tuple[str, dict[str, Any]]:
        """Verify ``user`` by SMS code, starting with the "confirm my number" button: the code
        and the answer to it (which says the number is confirmed)."""
        return await verify_by_sms(self.webchat, self.sms, user, subscriber, typed=typed)

    async def identity(self, user: str) -> Identity:
        found = await channel_db.find_identity(self.db, WEBCHAT, user)
        assert found is not None, "the web chat user has no identity"
        return found


@asynccontextmanager
async def running_identity_app(
    database_url: str, rasa: RasaServer, billing: FakeBilling, sms: FakeSmsGateway,
    **overrides: object,
) -> AsyncIterator[IdentityApp]:
    settings = app_settings(database_url, rasa, **{**identity_settings(billing, sms), **overrides})
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield IdentityApp(server.url, http, app.state.services, settings, billing, sms)


# -- subscribers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscriber:
    """A subscriber of the fake billing and the ways people write their number."""

    account: FakeSubscriber

    @property
    def msisdn(self) -> str:
        return self.account.msisdn  # "375291234567"

    @property
    def e164(self) -> str:
        return "+" + self.msisdn

    @property
    def readable(self) -> str:
        """"+375 29 123-45-67", as the bot shows a number."""
        operator, rest = self._parts()
        return f"+375 {operator} {rest[:3]}-{rest[3:5]}-{rest[5:]}"

    @property
    def national(self) -> str:
        """"8 029 123-45-67", as Belarusians write it."""
        operator, rest = self._parts()
        return f"8 0{operator} {rest[:3]}-{rest[3:5]}-{rest[5:]}"

    def number_forms(self) -> tuple[str, ...]:
        """Every way the whole number may show up in a text."""
        operator, rest = self._parts()
        return (self.e164, self.msisdn, self.readable, self.national, f"80{operator}{rest}",
                f"{operator}{rest}", f"{operator} {rest[:3]}-{rest[3:5]}-{rest[5:]}",
                f"{rest[:3]}-{rest[3:5]}-{rest[5:]}")

    def _parts(self) -> tuple[str, str]:
        assert self.msisdn.startswith("375") and len(self.msisdn) == 12, self.msisdn
        return self.msisdn[3:5], self.msisdn[5:]


def new_subscriber(billing: FakeBilling, **extra: Any) -> Subscriber:
    """A subscriber with a random Belarusian mobile number (one the bot accepts: the fake's own
    random numbers include ranges no operator uses) and a random balance."""
    while True:
        msisdn = random_msisdn()
        if normalise_phone("+" + msisdn) == "+" + msisdn and billing.account(msisdn) is None:
            return Subscriber(billing.add_subscriber(msisdn, **extra))


def unknown_number(billing: FakeBilling) -> Subscriber:
    """A valid mobile number the billing does not know (it answers 404 for it)."""
    while True:
        msisdn = random_msisdn()
        if normalise_phone("+" + msisdn) == "+" + msisdn and billing.account(msisdn) is None:
            return Subscriber(FakeSubscriber(msisdn, random_amount()))


def change_balance(subscriber: Subscriber) -> str:
    """Give the subscriber a new random balance in the billing; returns it."""
    old = subscriber.account.amount
    while (new := random_amount()) == old:
        pass
    subscriber.account.amount = new  # the fake serves this object
    return new


def shown_balance(amount: str) -> str:
    """"-37.81" -> "-37,81 BYN": a balance as the bot writes it in Russian."""
    return f"{amount.replace('.', ',')} BYN"


def amount_forms(amount: str) -> tuple[str, ...]:
    """Every way a balance may show up: "37.81", "37,81" (any sign in front)."""
    digits = amount.lstrip("+-")
    return (digits, digits.replace(".", ","))


# -- codes -----------------------------------------------------------------------------------

def code_sent_to(sms: FakeSmsGateway, e164: str) -> str:
    """The code in the latest SMS the gateway accepted for ``e164`` (exactly one 6-digit
    number in it, however often it is repeated)."""
    received = sms.messages(e164)
    assert received, "no SMS reached the gateway for this number"
    codes: set[str] = set(_CODE.findall(received[-1].text))
    assert len(codes) == 1, f"expected one 6-digit code in the SMS, found {len(codes)}"
    return codes.pop()


def another_code(code: str) -> str:
    """A 6-digit code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


async def verify_by_sms(webchat: WebChatClient, sms: FakeSmsGateway, user: str,
                        subscriber: Subscriber, *, typed: str | None = None
                        ) -> tuple[str, dict[str, Any]]:
    """The "confirm my number" button, the number (``typed``, else its national form), the
    code from the SMS: the code and the answer to it."""
    before = len(sms.messages(subscriber.e164))
    await webchat.say(user, payload=VERIFY_PAYLOAD)
    asked = await webchat.say(user, typed or subscriber.national)
    assert len(sms.messages(subscriber.e164)) == before + 1, texts(asked)
    code = code_sent_to(sms, subscriber.e164)
    done = await webchat.say(user, code)
    assert says_verified(texts(done)), texts(done)
    return code, done


# -- answers ---------------------------------------------------------------------------------

def says_verified(text: str) -> bool:
    """Whether a reply says the number is now confirmed."""
    return _VERIFIED.search(text) is not None


def texts(answer: dict[str, Any]) -> str:
    return "\n".join(str(reply["text"]) for reply in answer["replies"])


def payloads(answer: dict[str, Any]) -> list[str]:
    return [str(b["payload"]) for reply in answer["replies"] for b in reply["buttons"]]


def assert_none_in(text: str, secrets: Iterable[str], what: str = "text") -> None:
    found = [s for s in secrets if s in text]
    assert not found, f"the {what} shows {len(found)} form(s) of what it must not"


# -- the database ----------------------------------------------------------------------------

async def count_messages(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def expire_codes(db: Database, identity_id: int) -> int:
    """Move the identity's live codes' expiry into the past; how many there were."""
    async with db.transaction() as session:
        moved = await session.execute(
            update(VerificationCode)
            .where(VerificationCode.identity_id == identity_id,
                   VerificationCode.used_at.is_(None), VerificationCode.dead_at.is_(None))
            .values(expires_at=utcnow() - timedelta(minutes=1))
            .execution_options(synchronize_session=False)
        )
        return affected_rows(moved)
