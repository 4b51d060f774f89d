"""Verified identity and personal answers on the web chat, end to end (#12): the real Rasa model,
the real app over HTTP, a real database (SQLite and PostgreSQL), and the operator's billing and
SMS gateway as fakes on loopback speaking their real HTTP contracts.

Nothing is known in advance: every test adds its own subscribers (random numbers and balances),
reads the figures from the fake billing and the code from the SMS the fake gateway received.
The same flows, pure: tests/bot/test_personal_policy.py.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.personal_policy import VERIFY_PAYLOAD
from channels.web.api import TOKEN_HEADER
from channels.web.channel import WEBCHAT
from nlu.server import RasaServer
from tests.backoffice.fake_billing import FakeBilling
from tests.backoffice.fake_sms import FakeSmsGateway
from tests.support import channel_db
from tests.support.app import new_user
from tests.support.identity import (
    DATABASES,
    IdentityApp,
    amount_forms,
    another_code,
    assert_none_in,
    change_balance,
    code_sent_to,
    count_messages,
    expire_codes,
    new_subscriber,
    running_identity_app,
    says_verified,
    shown_balance,
    texts,
    unknown_number,
)
from tests.support.postgres import database_for_test

pytestmark = pytest.mark.rasa

MESSAGES = "/api/webchat/messages"
UPDATES = "/api/webchat/updates"
OFFER = "код в SMS"  # the offer to verify (verify_offer)
ROAMING_ON, ROAMING_KEEP = "Да, включить", "Нет, оставить"  # the confirmation's buttons


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
async def app(database_url: str, rasa_server: RasaServer, billing: FakeBilling,
              sms: FakeSmsGateway) -> AsyncIterator[IdentityApp]:
    async with running_identity_app(database_url, rasa_server, billing, sms) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_fakes(billing: FakeBilling, sms: FakeSmsGateway) -> None:
    """No subscribers, faults or calls left by an earlier test."""
    billing.reset()
    sms.reset()


def button(answer: dict[str, Any], title: str) -> str:
    """The payload of the button titled ``title`` (what a press sends)."""
    found = [b["payload"] for r in answer["replies"] for b in r["buttons"] if b["title"] == title]
    assert len(found) == 1, f"no single {title!r} button in: {texts(answer)}"
    return str(found[0])


def assert_no_figure(answer: dict[str, Any], *amounts: str) -> None:
    text = texts(answer)
    assert_none_in(text, [form for amount in amounts for form in amount_forms(amount)], "answer")
    assert "BYN" not in text


# -- 1. unverified -----------------------------------------------------------------------------

async def test_an_unverified_balance_question_gets_the_article_and_an_offer_not_a_figure(
    app: IdentityApp,
) -> None:
    subscriber = new_subscriber(app.billing)
    answer = await app.say(new_user(), "какой у меня баланс")
    assert "*100#" in texts(answer), "the general article"
    assert OFFER in texts(answer)
    assert_no_figure(answer, subscriber.account.amount)
    assert app.billing.calls() == [], "nobody unverified makes the bot ask the billing"


# -- 2. the SMS code ---------------------------------------------------------------------------

async def test_the_code_from_the_sms_verifies_and_answers_the_question_asked_before(
    app: IdentityApp,
) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    await app.say(user, "какой у меня баланс")
    sent = await app.say(user, subscriber.national)  # "8 029 123-45-67"
    [sms] = app.sms.messages()
    assert sms.to == subscriber.e164
    code = code_sent_to(app.sms, subscriber.e164)
    assert subscriber.readable in texts(sent)
    assert app.billing.calls() == [], "nothing is looked up before the code"

    done = await app.say(user, code)
    assert says_verified(texts(done))
    assert shown_balance(subscriber.account.amount) in texts(done), "answered without asking again"
    [lookup] = app.billing.calls("getSubscriber")
    assert lookup.msisdn == subscriber.msisdn and lookup.status == 200

    before = subscriber.account.amount
    changed = change_balance(subscriber)
    again = await app.say(user, "баланс")
    assert shown_balance(changed) in texts(again), "no cache: the billing is asked again"
    assert_none_in(texts(again), amount_forms(before), "answer")
    assert len(app.billing.calls("getSubscriber")) == 2

    stored = await channel_db.stored_messages(app.db, WEBCHAT, user)
    kept = [json.dumps([m.text, m.payload, m.nlu, m.meta], ensure_ascii=False) for m in stored]
    assert not [row for row in kept if code in row], "the transcript keeps no copy of the code"


# -- 3. wrong, used and expired codes ----------------------------------------------------------

async def test_three_wrong_codes_lock_it_and_a_new_code_works(app: IdentityApp) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    await app.say(user, "какой у меня баланс")
    await app.say(user, subscriber.readable)  # "+375 29 123-45-67"
    first = code_sent_to(app.sms, subscriber.e164)
    wrong = another_code(first)
    tries = [await app.say(user, wrong) for _ in range(3)]
    assert "Осталось попыток: 2" in texts(tries[0]) and "Осталось попыток: 1" in texts(tries[1])
    assert "слишком много раз" in texts(tries[2])
    for answer in tries:
        assert_no_figure(answer, subscriber.account.amount)
        assert not says_verified(texts(answer))
    assert app.billing.calls() == []
    assert (await app.identity(user)).verified_phone is None

    await app.press(user, button(tries[2], "Новый код"))
    await app.say(user, subscriber.national)
    second = code_sent_to(app.sms, subscriber.e164)
    assert len(app.sms.messages(subscriber.e164)) == 2
    if second != first:  # one in a million: the new code is the old one
        stale = await app.say(user, first)
        assert "не подходит" in texts(stale), "the locked code is dead"
    done = await app.say(user, second)
    assert says_verified(texts(done))
    assert shown_balance(subscriber.account.amount) in texts(done)
    assert (await app.identity(user)).verified_phone == subscriber.e164


async def test_a_used_code_does_not_verify_again(app: IdentityApp) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    used, _ = await app.verify(user, subscriber)
    await app.say(user, "выйти")
    assert (await app.identity(user)).verified_phone is None

    again = await app.say(user, used)
    assert not says_verified(texts(again))
    await app.press(user, VERIFY_PAYLOAD)
    await app.say(user, subscriber.national)
    fresh = code_sent_to(app.sms, subscriber.e164)
    if fresh != used:  # one in a million: the new code is the old one
        replayed = await app.say(user, used)
        assert "не подходит" in texts(replayed) and not says_verified(texts(replayed))
    assert (await app.identity(user)).verified_phone is None
    assert app.billing.calls() == []


async def test_an_expired_code_does_not_work(app: IdentityApp) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    await app.say(user, "какой у меня баланс")
    await app.say(user, subscriber.national)
    code = code_sent_to(app.sms, subscriber.e164)
    assert await expire_codes(app.db, (await app.identity(user)).id) == 1

    late = await app.say(user, code)
    assert "не действует" in texts(late)
    assert not says_verified(texts(late))
    assert_no_figure(late, subscriber.account.amount)
    assert app.billing.calls() == []
    assert (await app.identity(user)).verified_phone is None


# -- 4. another browser ------------------------------------------------------------------------

async def test_another_browser_with_the_same_user_id_gets_401_and_nothing_is_stored(
    app: IdentityApp,
) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    await app.verify(user, subscriber)
    stored = await count_messages(app.db)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as stranger:
        tries = [
            await stranger.post(MESSAGES, json={"user_id": user, "text": "баланс"}),
            await stranger.post(MESSAGES, json={"user_id": user, "text": "баланс"},
                                headers={TOKEN_HEADER: "not-the-token"}),
            await stranger.get(UPDATES, params={"user_id": user, "after": 0, "wait": 0}),
            await stranger.get(UPDATES, params={"user_id": user, "after": 0, "wait": 0},
                               headers={TOKEN_HEADER: "not-the-token"}),
        ]
    assert [r.status_code for r in tries] == [401] * 4
    for response in tries:
        assert_none_in(response.text, subscriber.number_forms(), "401 answer")
    assert await count_messages(app.db) == stored
    assert app.billing.calls() == []

    answer = await app.say(user, "баланс")  # the browser that holds the token
    assert shown_balance(subscriber.account.amount) in texts(answer)
    updates = await app.webchat.updates(user)
    assert shown_balance(subscriber.account.amount) in "\n".join(
        r["text"] for r in updates["replies"])


# -- 5. the billing down, or not knowing the number --------------------------------------------

async def test_a_number_the_billing_does_not_know_is_said_honestly(app: IdentityApp) -> None:
    user, stranger = new_user(), unknown_number(app.billing)
    await app.verify(user, stranger)  # any mobile number can get a code: the SMS tells nothing
    answer = await app.say(user, "баланс")
    assert "не нашёлся" in texts(answer) and "*100#" in texts(answer)
    assert "BYN" not in texts(answer)
    [lookup] = app.billing.calls("getSubscriber")
    assert lookup.msisdn == stranger.msisdn and lookup.status == 404


async def test_a_billing_that_fails_every_try_gets_an_honest_answer_and_no_figure(
    database_url: str, rasa_server: RasaServer, billing: FakeBilling, sms: FakeSmsGateway,
) -> None:
    # an app of its own: the failures open its circuit breaker, which must not reach the others
    async with running_identity_app(database_url, rasa_server, billing, sms) as down:
        user, subscriber = new_user(), new_subscriber(billing)
        await down.verify(user, subscriber)
        billing.fail_next("getSubscriber", 503, times=1000)
        answer = await down.say(user, "баланс")
    assert "не отвечает" in texts(answer) and "*100#" in texts(answer)
    assert_no_figure(answer, subscriber.account.amount)
    calls = billing.calls("getSubscriber")
    assert calls and {c.status for c in calls} == {503}, "it was asked, and failed every time"


# -- 6. roaming --------------------------------------------------------------------------------

async def test_roaming_is_switched_only_by_its_confirmation_button(app: IdentityApp) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing, roaming=False)
    offered = await app.say(user, "включи роуминг")
    assert OFFER in texts(offered)
    assert app.billing.calls() == []

    _, question = await app.verify(user, subscriber)  # the question asked before, answered now
    assert "Включить роуминг" in texts(question) and subscriber.readable in texts(question)
    kept = await app.press(user, button(question, ROAMING_KEEP))
    assert "оставил" in texts(kept)
    assert app.billing.calls("setRoaming") == [] and subscriber.account.roaming is False

    asked = await app.say(user, "включи роуминг")
    assert app.billing.calls("setRoaming") == [], "a question is not a switch"
    on = button(asked, ROAMING_ON)
    done = await app.press(user, on)
    [switch] = app.billing.calls("setRoaming")
    assert switch.msisdn == subscriber.msisdn and switch.body == {"enabled": True}
    assert "включён" in texts(done) and subscriber.account.roaming is True

    # the same payload pressed by someone unverified switches nothing
    forged = await app.press(new_user(), on)
    assert OFFER in texts(forged)
    assert len(app.billing.calls("setRoaming")) == 1


# -- 7. who am I, log out ------------------------------------------------------------------------

async def test_whoami_shows_the_number_only_while_verified_and_logout_forgets_it(
    app: IdentityApp,
) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    unknown = await app.say(user, "кто я")
    assert "не знаю" in texts(unknown)
    assert_none_in(texts(unknown), subscriber.number_forms(), "answer")

    await app.verify(user, subscriber)
    known = await app.say(user, "кто я")
    assert subscriber.readable in texts(known)

    await app.say(user, "выйти")  # what it answers: test_logout_says_the_number_is_forgotten
    assert (await app.identity(user)).verified_phone is None
    after = await app.say(user, "какой у меня баланс")
    assert OFFER in texts(after)
    assert_no_figure(after, subscriber.account.amount)
    forgotten = await app.say(user, "кто я")
    assert_none_in(texts(forgotten), subscriber.number_forms(), "answer")
    assert app.billing.calls() == []


async def test_logout_says_the_number_is_forgotten(app: IdentityApp) -> None:
    user = new_user()
    await app.verify(user, new_subscriber(app.billing))
    assert "забыл" in texts(await app.say(user, "выйти"))


# -- 8. own number -----------------------------------------------------------------------------

async def test_my_number_is_the_verified_number_formatted(app: IdentityApp) -> None:
    user, subscriber = new_user(), new_subscriber(app.billing)
    await app.verify(user, subscriber, typed=subscriber.msisdn)
    answer = await app.say(user, "какой у меня номер")
    assert subscriber.readable in texts(answer)
    assert app.billing.calls() == [], "the number needs no billing"


# -- 9. privacy --------------------------------------------------------------------------------

async def test_no_number_code_figure_or_token_reaches_a_log(
    app: IdentityApp, rasa_server: RasaServer, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # three digits before the point: SQLAlchemy's "[cached since 12.34s ago]" cannot look alike
    rng = random.SystemRandom()
    amount = f"{rng.choice(('', '-'))}{rng.randint(100, 999)}.{rng.randint(1, 99):02d}"
    user, subscriber = new_user(), new_subscriber(app.billing, amount=amount)
    await app.say(user, "какой у меня баланс")
    await app.say(user, subscriber.national)
    code = code_sent_to(app.sms, subscriber.e164)
    assert shown_balance(amount) in texts(await app.say(user, code))
    changed = f"{rng.randint(100, 999)}.{rng.randint(1, 99):02d}"
    subscriber.account.amount = changed
    assert shown_balance(changed) in texts(await app.say(user, "баланс"))
    question = await app.say(user, "включи роуминг")
    assert "включён" in texts(await app.press(user, button(question, ROAMING_ON)))
    assert subscriber.readable in texts(await app.say(user, "кто я"))
    assert subscriber.readable in texts(await app.say(user, "какой у меня номер"))
    await app.say(user, "выйти")

    records = caplog.records
    assert any(r.name == "bot.verification" for r in records), "the flow's logs were captured"
    logged = "\n".join([caplog.text, *(r.getMessage() for r in records)])
    secrets = [*subscriber.number_forms(), *amount_forms(amount), *amount_forms(changed),
               _token(app.settings.billing_token), _token(app.settings.sms_gateway_token),
               rasa_server.token]
    leaks = [s for s in secrets if s in logged]
    assert not leaks, f"{len(leaks)} of {len(secrets)} secrets reached the log: {_where(records, leaks)}"
    assert re.search(rf"(?<![0-9]){code}(?![0-9])", logged) is None, "the code reached the log"


def _token(secret: Any) -> str:
    assert secret is not None
    return str(secret.get_secret_value())


def _where(records: list[logging.LogRecord], leaks: list[str]) -> list[str]:
    """The loggers that wrote a leak (never the leak itself: this message is a log too)."""
    return sorted({f"{r.name}:{r.levelname}" for r in records
                   if any(s in r.getMessage() for s in leaks)})
