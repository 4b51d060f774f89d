"""Threads end to end: one conversation per e-mail thread. A reply to our reply (by its
Message-ID, as the sink received it) stays in the conversation, a mail on another subject opens
another one, a reply whose client dropped the threading headers joins by its subject, and each
of our replies names the very mail it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.storage import Conversation, Message
from nlu.server import RasaServer
from tests.channels.email.mails import plain_mail
from tests.support.email_app import EmailApp, running_email_app
from tests.support.fake_rasa import FakeAnswer, FakeRasa
from tests.support.mail import CapturedMail, Mailbox, SmtpSink
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa

ANNA = "anna@example.test"


@pytest.fixture
async def email_app(database_url: str, rasa_server: RasaServer, mailbox: Mailbox,
                    smtp: SmtpSink) -> AsyncIterator[EmailApp]:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        yield app


async def stored_in(app: EmailApp, sender: str, count: int) -> list[Message]:
    async def enough() -> list[Message] | None:
        found = await app.messages(sender, "in")
        return found if len(found) >= count else None

    return await eventually(enough, timeout=20)


async def conversation_of(app: EmailApp, message: Message) -> Conversation:
    async with app.services.db.sessions() as session:
        found = await session.get(Conversation, message.conversation_id)
    assert found is not None
    return found


async def ask(app: EmailApp, text: str, *, from_: str = f"Анна <{ANNA}>",
              **headers: Any) -> list[CapturedMail]:
    """Deliver one mail (from Anna) and wait for one more reply than the sink had."""
    before = len(app.smtp.messages)
    await app.mailbox.append_async(plain_mail(text, from_=from_, to=app.mailbox.address,
                                              **headers))
    return await app.smtp.wait_for_async(before + 1, timeout=30)


async def test_a_reply_to_our_reply_stays_in_the_conversation(email_app: EmailApp) -> None:
    [first] = await ask(email_app, "Какой у меня баланс?", subject="Баланс",
                        message_id="<t1@example.test>")
    ours = first.message["Message-ID"]
    assert ours and ours != "<t1@example.test>"

    # the subscriber's client answers our reply: In-Reply-To ours, References the whole chain
    replies = await ask(email_app, "А как подключить роуминг?", subject="Re: Баланс",
                        message_id="<t2@example.test>", in_reply_to=ours,
                        references=["<t1@example.test>", ours])
    second = replies[-1]
    assert second.message["In-Reply-To"] == "<t2@example.test>"
    assert second.message["References"].split()[-3:] == ["<t1@example.test>", ours,
                                                         "<t2@example.test>"]
    assert second.message["Subject"] == "Re: Баланс"

    # another client keeps only In-Reply-To (our second reply)
    replies = await ask(email_app, "А мой номер какой?", subject="Re: Re: Баланс",
                        message_id="<t3@example.test>",
                        in_reply_to=second.message["Message-ID"])
    assert replies[-1].message["In-Reply-To"] == "<t3@example.test>"

    stored = await stored_in(email_app, ANNA, 3)
    assert len({m.conversation_id for m in stored}) == 1, "one thread, one conversation"
    conversation = await conversation_of(email_app, stored[0])
    assert conversation.thread_key == "<t1@example.test>", "named by the thread's first mail"


async def test_another_subject_opens_another_conversation(email_app: EmailApp) -> None:
    await ask(email_app, "Какой у меня баланс?", subject="Баланс",
              message_id="<b1@example.test>")
    await ask(email_app, "Как подключить роуминг?", subject="Роуминг",
              message_id="<c1@example.test>")
    first, second = await stored_in(email_app, ANNA, 2)
    assert first.conversation_id != second.conversation_id
    one, other = await conversation_of(email_app, first), await conversation_of(email_app, second)
    assert one.thread_key and other.thread_key and one.thread_key != other.thread_key
    assert one.identity_id == other.identity_id, "one subscriber, two threads"


async def test_a_reply_without_threading_headers_joins_by_its_subject(
    email_app: EmailApp,
) -> None:
    await ask(email_app, "Какой у меня баланс?", subject="Пополнение счёта",
              message_id="<s1@example.test>")
    await ask(email_app, "Как подключить роуминг?", subject="Роуминг",
              message_id="<s2@example.test>")
    # a webmail that drops In-Reply-To and References, and says "Ответ:" instead of "Re:"
    replies = await ask(email_app, "А мой номер какой?", subject="Ответ: Пополнение  счёта",
                        message_id="<s3@example.test>")
    assert replies[-1].message["In-Reply-To"] == "<s3@example.test>"
    assert replies[-1].message["Subject"] == "Re: Пополнение счёта"
    balance, roaming, late = await stored_in(email_app, ANNA, 3)
    assert late.conversation_id == balance.conversation_id
    assert late.conversation_id != roaming.conversation_id


async def test_the_subscriber_is_the_sender_address_lower_cased(email_app: EmailApp) -> None:
    [first] = await ask(email_app, "Какой у меня баланс?", from_="Анна <Anna@Example.TEST>",
                        subject="Баланс", message_id="<u1@example.test>")
    assert first.rcpt_tos == [ANNA]
    # the same person from another client, which spells the address in lower case and keeps
    # no threading headers
    await ask(email_app, "Как подключить роуминг?", from_=ANNA, subject="Re: Баланс",
              message_id="<u2@example.test>")
    first_in, second_in = await stored_in(email_app, ANNA, 2)
    assert first_in.conversation_id == second_in.conversation_id


@pytest.fixture
def slow_rasa() -> Iterator[FakeRasa]:
    """A Rasa that takes a second per answer: the next mail of the thread is stored while the
    bot still thinks about the first."""
    with FakeRasa(token="slow", delay=1.0, default=FakeAnswer("check_balance", 0.95)) as rasa:
        yield rasa


async def test_each_reply_names_the_mail_it_answers(
    database_url: str, slow_rasa: FakeRasa, mailbox: Mailbox, smtp: SmtpSink,
) -> None:
    await mailbox.append_async(plain_mail("Какой у меня баланс?", from_=ANNA,
                                          to=mailbox.address, subject="Баланс",
                                          message_id="<first@example.test>"))
    await mailbox.append_async(plain_mail("И ещё: баланс в минусе?", from_=ANNA,
                                          to=mailbox.address, subject="Re: Баланс",
                                          message_id="<second@example.test>",
                                          in_reply_to="<first@example.test>",
                                          references=["<first@example.test>"]))
    rasa: Any = slow_rasa  # the fake has what the app needs of a Rasa server: url and token
    async with running_email_app(database_url, rasa, mailbox, smtp) as app:
        first, second = await stored_in(app, ANNA, 2)
        assert first.conversation_id == second.conversation_id
        replies = await smtp.wait_for_async(2, timeout=30)
        assert sorted(m.message["In-Reply-To"] for m in replies) == [
            "<first@example.test>", "<second@example.test>"]
