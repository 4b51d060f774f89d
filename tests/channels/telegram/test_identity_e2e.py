"""Verified identity on Telegram, end to end (#12): the real Rasa model, the real app in webhook
mode, the fake Bot API, a real database, and the operator's billing and SMS gateway as fakes on
loopback. A subscriber proves their number by sharing their own contact (Telegram vouches that
it is theirs); a forwarded card proves nothing. One number verified on Telegram and on the web
chat is one customer, and the agent's card says so.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from channels.web.channel import WEBCHAT
from nlu.server import RasaServer
from tests.backoffice.fake_billing import FakeBilling
from tests.backoffice.fake_sms import FakeSmsGateway
from tests.channels.telegram.fake_bot_api import FakeBotApi, SentMessage
from tests.channels.telegram.updates import TelegramUser
from tests.support import channel_db
from tests.support.app import new_user
from tests.support.desk import Desk
from tests.support.identity import (
    DATABASES,
    amount_forms,
    assert_none_in,
    identity_settings,
    new_subscriber,
    says_verified,
    shown_balance,
    verify_by_sms,
)
from tests.support.postgres import database_for_test
from tests.support.telegram import TelegramApp, new_telegram_user, running_telegram_app

pytestmark = pytest.mark.rasa

SHARE_PHONE = "Поделиться номером"  # the request_contact button's label (share_phone_button)
_update_ids = itertools.count(random.SystemRandom().randrange(10**6, 10**8))


# -- one app per module (and database) --------------------------------------------------------

@pytest.fixture(scope="module")
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@pytest.fixture(scope="module")
def sms() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as fake:
        yield fake


@pytest.fixture(scope="module", params=DATABASES)
async def database_url(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with database_for_test(request, tmp_path_factory.mktemp("identity")) as url:
        yield url


@pytest.fixture(scope="module")
async def app(database_url: str, rasa_server: RasaServer, fake_bot_api: FakeBotApi,
              billing: FakeBilling, sms: FakeSmsGateway) -> AsyncIterator[TelegramApp]:
    fake_bot_api.reset()  # no fault an earlier module left behind; users here are all new
    async with running_telegram_app(database_url, rasa_server, fake_bot_api, webhook=True,
                                    **identity_settings(billing, sms)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_fakes(billing: FakeBilling, sms: FakeSmsGateway) -> None:
    billing.reset()
    sms.reset()


async def send(app: TelegramApp, user: TelegramUser, update: dict[str, Any]
               ) -> list[SentMessage]:
    """Post the update to the webhook; the messages the bot sent back for it, once everything
    is answered and delivered."""
    before = len(app.api.sent(user.id))
    response = await app.post_update({"update_id": next(_update_ids), **update})
    assert response.status_code == 200, response.text
    await app.api.wait_for(lambda: app.delivered(user), what="the update answered and sent")
    return app.api.sent(user.id)[before:]


def joined(sent: list[SentMessage]) -> str:
    return "\n".join(message.text for message in sent)


def contact_buttons(sent: list[SentMessage]) -> list[dict[str, Any]]:
    return [button for message in sent if message.reply_markup is not None
            for row in message.reply_markup.get("keyboard") or () for button in row
            if button.get("request_contact")]


async def test_sharing_their_own_contact_verifies_and_answers_the_balance_question(
    app: TelegramApp, billing: FakeBilling,
) -> None:
    anna, subscriber = new_telegram_user(), new_subscriber(billing)
    asked = await send(app, anna, anna.text("баланс"))
    assert "*100#" in joined(asked), "the general article"
    [share] = contact_buttons(asked)
    assert share["text"] == SHARE_PHONE
    assert_none_in(joined(asked), amount_forms(subscriber.account.amount), "answer")
    assert billing.calls() == []

    # Telegram sends the owner's number as digits, without "+"
    shared = await send(app, anna, anna.contact(subscriber.msisdn, owner=anna.id))
    assert says_verified(joined(shared))
    assert shown_balance(subscriber.account.amount) in joined(shared), "answered without asking"
    [lookup] = billing.calls("getSubscriber")
    assert lookup.msisdn == subscriber.msisdn
    identity = await app.identity(anna)
    assert identity is not None
    assert (identity.verified_phone, identity.verified_via) == (subscriber.e164, "contact")


@pytest.mark.parametrize("owner", ["someone else", "nobody"])
async def test_a_forwarded_contact_verifies_nothing(
    app: TelegramApp, billing: FakeBilling, owner: str,
) -> None:
    anna, subscriber = new_telegram_user(), new_subscriber(billing)
    await send(app, anna, anna.text("баланс"))
    card_owner = anna.id + 1 if owner == "someone else" else None
    refused = await send(app, anna, anna.contact(subscriber.e164, owner=card_owner))
    assert "собственный номер" in joined(refused)
    assert not says_verified(joined(refused))
    assert_none_in(joined(refused), amount_forms(subscriber.account.amount), "answer")
    assert "BYN" not in joined(refused)
    identity = await app.identity(anna)
    assert identity is not None and identity.verified_phone is None
    assert billing.calls() == []


async def test_one_number_on_telegram_and_the_web_chat_is_one_customer_on_the_agents_card(
    app: TelegramApp, billing: FakeBilling, sms: FakeSmsGateway,
) -> None:
    anna, subscriber = new_telegram_user(), new_subscriber(billing)
    shared = await send(app, anna, anna.contact(subscriber.msisdn, owner=anna.id))
    assert says_verified(joined(shared))

    desk = Desk(app.url, app.http, app.services)
    user = new_user()
    await verify_by_sms(desk.webchat, sms, user, subscriber)
    telegram = await app.identity(anna)
    web = await channel_db.find_identity(app.services.db, WEBCHAT, user)
    assert telegram is not None and web is not None
    assert web.customer_id == telegram.customer_id
    assert (web.verified_phone, web.verified_via) == (subscriber.e164, "sms_code")

    handed = await desk.say(user, "позовите оператора")
    assert handed["state"] == "waiting_agent"
    await desk.module.ready()
    agent = await desk.create_agent("anna")
    response = await app.http.get(f"/api/desk/conversations/{handed['conversation_id']}",
                                  headers=agent.headers)
    assert response.status_code == 200, response.text
    card = response.json()["card"]
    assert card["identity"]["verified_phone"] == subscriber.readable
    assert [(o["channel"], o["verified"], o["verified_via"]) for o in card["other_identities"]
            ] == [("telegram", True, "contact")]
    assert str(anna.id) not in response.text, "the agent sees an alias, not the Telegram id"
