"""No mail loops, end to end: auto-replies, bounces, bulk and list mail, robots, our own mail (and
mail written weeks ago) are stored for agents (``no_reply``) but never answered, while a
person's mail still is; and a sender gets at most ``EMAIL_AUTO_REPLIES_PER_HOUR`` automatic
replies an hour."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from bot.messages import NO_REPLY
from bot.storage import Message
from nlu.server import RasaServer
from tests.channels.email.mails import bounce_mail, plain_mail
from tests.support.email_app import EmailApp, running_email_app
from tests.support.fake_rasa import FakeAnswer, FakeRasa
from tests.support.mail import Mailbox, SmtpSink
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa

IVAN = "ivan@example.test"
ANNA = "anna@example.test"
QUESTION = "Здравствуйте! Какой у меня баланс?"


@dataclass(frozen=True)
class LoopCase:
    name: str
    sender: str  # the address the mail is stored under
    build: Callable[[str], bytes]  # the mailbox address -> the raw mail
    reason: str  # the stored no_reply reason


def _plain(sender: str, *headers: tuple[str, str]) -> Callable[[str], bytes]:
    def build(mailbox: str) -> bytes:
        return plain_mail(QUESTION, from_=sender, to=mailbox, subject="Баланс",
                          headers=list(headers))
    return build


def _own(mailbox: str) -> bytes:
    return plain_mail(QUESTION, from_=f"Support <{mailbox}>", to=mailbox, subject="Баланс")


def _old(mailbox: str) -> bytes:
    # an old mailbox connected for the first time: weeks-old unread mail is for people
    written = format_datetime(datetime.now(UTC) - timedelta(days=30))
    return plain_mail(QUESTION, from_="old.friend@example.test", to=mailbox, subject="Баланс",
                      date=written)


def _bounce(mailbox: str) -> bytes:
    # no Auto-Submitted: the empty envelope sender alone must stop it
    return bounce_mail(to=mailbox, return_path="<>", auto_submitted=None)


LOOP_CASES = [
    LoopCase("out of office", "ooo@example.test",
             _plain("ooo@example.test", ("Auto-Submitted", "auto-replied")),
             "Auto-Submitted: auto-replied"),
    LoopCase("bounce", "mailer-daemon@mx.example.test", _bounce, "empty envelope sender"),
    LoopCase("bulk", "promo@shop.example.test",
             _plain("promo@shop.example.test", ("Precedence", "bulk")), "Precedence: bulk"),
    LoopCase("mailing list", "news@lists.example.test",
             _plain("news@lists.example.test", ("List-Id", "News <news.lists.example.test>")),
             "mailing list (List-Id)"),
    LoopCase("exchange suppress", "boss@corp.example.test",
             _plain("boss@corp.example.test", ("X-Auto-Response-Suppress", "All")),
             "X-Auto-Response-Suppress: All"),
    LoopCase("noreply sender", "noreply@shop.example.test",
             _plain("Shop <noreply@shop.example.test>"), "sender noreply@"),
    LoopCase("written weeks ago", "old.friend@example.test", _old,
             "written more than 14 days ago"),
]


@pytest.fixture
async def email_app(database_url: str, rasa_server: RasaServer, mailbox: Mailbox,
                    smtp: SmtpSink) -> AsyncIterator[EmailApp]:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        yield app


async def stored_in(app: EmailApp, sender: str, count: int = 1) -> list[Message]:
    async def enough() -> list[Message] | None:
        found = await app.messages(sender, "in")
        return found if len(found) >= count else None

    return await eventually(enough, timeout=20)


async def test_loop_mail_is_stored_but_never_answered_while_a_person_still_is(
    email_app: EmailApp,
) -> None:
    box = email_app.mailbox
    cases = [*LOOP_CASES, LoopCase("our own address", box.address, _own, "our own address")]
    for case in cases:
        await box.append_async(case.build(box.address))
    await box.append_async(plain_mail(QUESTION, from_=f"Иван <{IVAN}>", to=box.address,
                                      subject="Баланс", message_id="<person@example.test>"))

    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.rcpt_tos == [IVAN]
    assert reply.message["In-Reply-To"] == "<person@example.test>"
    await eventually(lambda: email_app.delivered(IVAN))
    for case in cases:  # read in UID order: every one of them was stored before Ivan's
        [stored] = await stored_in(email_app, case.sender)
        assert (stored.meta or {}).get(NO_REPLY) == case.reason, case.name
        assert stored.processed_at is not None, f"{case.name}: nothing left to answer"
        assert await email_app.messages(case.sender, "out") == [], case.name
        assert await email_app.outbox(case.sender) == [], case.name
    assert [m.rcpt_tos for m in email_app.smtp.messages] == [[IVAN]]


async def test_a_sender_gets_at_most_the_hourly_number_of_automatic_replies(
    database_url: str, rasa_server: RasaServer, mailbox: Mailbox, smtp: SmtpSink,
) -> None:
    async with running_email_app(database_url, rasa_server, mailbox, smtp,
                                 email_auto_replies_per_hour=2) as app:
        for number in (1, 2):
            await mailbox.append_async(plain_mail(
                QUESTION, from_=ANNA, to=mailbox.address, subject=f"Вопрос {number}",
                message_id=f"<rate{number}@example.test>"))
            await smtp.wait_for_async(number, timeout=30)
            await eventually(lambda: app.delivered(ANNA))
        await mailbox.append_async(plain_mail(
            QUESTION, from_=ANNA, to=mailbox.address, subject="Вопрос 3",
            message_id="<rate3@example.test>"))
        third = (await stored_in(app, ANNA, 3))[2]
        assert third.channel_message_id == "<rate3@example.test>"
        assert "2 automatic replies an hour" in str((third.meta or {}).get(NO_REPLY))
        await eventually(lambda: app.delivered(ANNA))
        assert len(await app.outbox(ANNA)) == 2
        assert [m.message["In-Reply-To"] for m in smtp.messages] == [
            "<rate1@example.test>", "<rate2@example.test>"]

        # another sender is not limited by Anna's replies
        await mailbox.append_async(plain_mail(QUESTION, from_=IVAN, to=mailbox.address,
                                              subject="Баланс"))
        await smtp.wait_for_async(3, timeout=30)
        assert smtp.messages[2].rcpt_tos == [IVAN]


@pytest.fixture
def slow_rasa() -> Iterator[FakeRasa]:
    """A Rasa that takes a second per answer: mail keeps coming while the bot thinks."""
    with FakeRasa(token="slow", delay=1.0, default=FakeAnswer("check_balance", 0.95)) as rasa:
        yield rasa


async def test_a_burst_of_mail_gets_no_more_than_the_hourly_number_of_replies(
    database_url: str, slow_rasa: FakeRasa, mailbox: Mailbox, smtp: SmtpSink,
) -> None:
    for number in (1, 2, 3):
        await mailbox.append_async(plain_mail(
            QUESTION, from_=ANNA, to=mailbox.address, subject=f"Вопрос {number}",
            message_id=f"<burst{number}@example.test>"))
    rasa: Any = slow_rasa  # the fake has what the app needs of a Rasa server: url and token
    async with running_email_app(database_url, rasa, mailbox, smtp,
                                 email_auto_replies_per_hour=2) as app:
        await stored_in(app, ANNA, 3)
        await eventually(lambda: app.delivered(ANNA), timeout=30)
        assert len(smtp.messages) == 2, "two automatic replies an hour, not three"
        third = (await app.messages(ANNA, "in"))[2]
        assert (third.meta or {}).get(NO_REPLY)
