"""E-mail end to end: the real app (real Rasa model, real database) reads a real Dovecot mailbox
over IMAP and answers in the thread through the SMTP sink: the headers of a reply, HTML-only and
legacy Russian charsets, a mail delivered twice, quoted history, buttons as a numbered list, and
SMTP refusing a reply for a while or for good."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

import pytest
from sqlalchemy import update

from bot.messages import utcnow
from bot.storage import Message, OutboxItem
from channels.email.intake import EMAIL
from nlu.server import RasaServer
from tests.channels.email.mails import (
    CONTRACT,
    PHOTO,
    attachments_mail,
    html_mail,
    legacy_mail,
    plain_mail,
)
from tests.support import channel_db
from tests.support.email_app import EmailApp, running_email_app
from tests.support.mail import CapturedMail, Mailbox, SmtpSink
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa

ANNA = "anna.kovaleva@example.test"
IVAN = "ivan@example.test"
SEEN = "\\Seen"


@pytest.fixture
async def email_app(database_url: str, rasa_server: RasaServer, mailbox: Mailbox,
                    smtp: SmtpSink) -> AsyncIterator[EmailApp]:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        yield app


def plain_text(mail: CapturedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None, "the reply has a text/plain part"
    return str(body.get_content())


def html_text(mail: CapturedMail) -> str:
    body = mail.message.get_body(("html",))
    assert body is not None, "the reply has a text/html part"
    return str(body.get_content())


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def stored_in(app: EmailApp, sender: str, count: int = 1) -> list[Message]:
    async def enough() -> list[Message] | None:
        found = await app.messages(sender, "in")
        return found if len(found) >= count else None

    return await eventually(enough, timeout=20)


async def watch_seen_after_stored(app: EmailApp, uid: int, sender: str) -> None:
    """Poll until the mail is \\Seen, failing if it is ever \\Seen while not yet stored (the
    flags are read first, so a row found afterwards cannot hide a \\Seen set before it)."""

    async def check() -> bool:
        seen = SEEN in await app.mailbox.flags_async(uid)
        stored = await app.messages(sender, "in")
        assert stored or not seen, "the mail was marked \\Seen before it was stored"
        return seen

    await eventually(check, timeout=30, every=0.02)


async def test_a_question_is_answered_in_the_thread(email_app: EmailApp) -> None:
    raw = plain_mail("Здравствуйте! Какой у меня баланс?", from_=f"Анна <{ANNA}>",
                     to=email_app.mailbox.address, subject="Баланс",
                     message_id="<q1@example.test>")
    uid = await email_app.mailbox.append_async(raw)
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.rcpt_tos == [ANNA]
    message = reply.message
    assert message["Subject"] == "Re: Баланс"
    assert message["In-Reply-To"] == "<q1@example.test>"
    assert "<q1@example.test>" in message["References"]
    assert message["Auto-Submitted"] == "auto-replied"
    body = message.get_body(("plain",))
    assert body is not None and "баланс" in body.get_content().lower()
    await eventually(lambda: email_app.delivered(ANNA))
    assert "\\Seen" in await email_app.mailbox.flags_async(uid)


async def test_a_reply_carries_every_threading_and_auto_reply_header(
    email_app: EmailApp,
) -> None:
    box = email_app.mailbox
    raw = plain_mail("Здравствуйте! Какой у меня баланс?", from_=f"Анна <{ANNA}>",
                     to=box.address, subject="Re: Re: Баланс",
                     message_id="<q2@example.test>", in_reply_to="<p2@elsewhere.test>",
                     references=["<p1@elsewhere.test>", "<p2@elsewhere.test>"])
    uid = await box.append_async(raw)
    await watch_seen_after_stored(email_app, uid, ANNA)

    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    message = reply.message
    assert reply.rcpt_tos == [ANNA]
    assert message["Subject"] == "Re: Баланс", "one Re:, however many came in"
    assert message["In-Reply-To"] == "<q2@example.test>"
    assert message["References"].split() == [
        "<p1@elsewhere.test>", "<p2@elsewhere.test>", "<q2@example.test>"]
    assert parseaddr(message["From"])[1] == box.address
    assert parseaddr(message["To"])[1] == ANNA
    own_id = message["Message-ID"]
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", own_id), own_id
    assert own_id.rstrip(">").rpartition("@")[2] == domain_of(box.address)
    assert own_id not in ("<q2@example.test>", "<p1@elsewhere.test>", "<p2@elsewhere.test>")
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Date"] is not None
    text, html = plain_text(reply), html_text(reply)
    assert "*100#" in text, "the balance answer"
    assert "*100#" in html and "<p>" in html

    [stored] = await email_app.messages(ANNA, "in")
    assert stored.text == "Здравствуйте! Какой у меня баланс?"
    await eventually(lambda: email_app.delivered(ANNA))
    [row] = await email_app.outbox(ANNA)
    assert row.status == "sent"


async def test_html_only_mail_is_read_as_text_and_answered(email_app: EmailApp) -> None:
    box = email_app.mailbox
    raw = html_mail("<html><body><p>Здравствуйте!</p><p>Какой у меня <b>баланс</b>?</p>"
                    "</body></html>", from_=f"Анна <{ANNA}>", to=box.address,
                    subject="Вопрос", message_id="<h1@example.test>")
    uid = await box.append_async(raw)
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.message["In-Reply-To"] == "<h1@example.test>"
    assert reply.message["Subject"] == "Re: Вопрос"
    assert "*100#" in plain_text(reply)
    [stored] = await email_app.messages(ANNA, "in")
    assert "<" not in stored.text and "Какой у меня баланс?" in stored.text
    await eventually(lambda: email_app.delivered(ANNA))
    assert SEEN in await box.flags_async(uid)


async def test_an_empty_body_is_read_from_the_subject(email_app: EmailApp) -> None:
    box = email_app.mailbox
    await box.append_async(plain_mail("\n", from_=ANNA, to=box.address,
                                      subject="Какой у меня баланс?",
                                      message_id="<subject-only@example.test>"))
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.message["Subject"] == "Re: Какой у меня баланс?"
    assert "*100#" in plain_text(reply)
    [stored] = await email_app.messages(ANNA, "in")
    assert stored.text == "Какой у меня баланс?"


async def test_no_subject_gets_a_subject_and_attachments_are_noted(email_app: EmailApp) -> None:
    box = email_app.mailbox
    await box.append_async(attachments_mail("Какой у меня баланс? Скриншот во вложении.",
                                            attachments=(PHOTO, CONTRACT), from_=ANNA,
                                            to=box.address, subject=None,
                                            message_id="<files@example.test>"))
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.message["Subject"] == "Re: Ваше обращение"
    assert reply.message["In-Reply-To"] == "<files@example.test>"
    [stored] = await email_app.messages(ANNA, "in")
    assert stored.text == "Какой у меня баланс? Скриншот во вложении."
    assert stored.attachments == {"kinds": ["photo.jpg", "Договор №5.pdf"]}


@pytest.mark.parametrize(("charset", "cte"), [
    ("koi8-r", "8bit"), ("koi8-r", "base64"), ("windows-1251", "quoted-printable"),
    ("windows-1251", "8bit"),
])
async def test_legacy_russian_charsets_are_understood(
    email_app: EmailApp, charset: str, cte: str,
) -> None:
    box = email_app.mailbox
    question = "Здравствуйте! Какой у меня баланс?"
    raw = legacy_mail(question, charset=charset, cte=cte, from_name="Иван Петров",
                      from_address=IVAN, to=box.address, subject="Баланс",
                      message_id="<legacy@example.test>")
    assert question.encode("utf-8") not in raw, "the mail really is in the legacy charset"
    await box.append_async(raw)
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    assert reply.rcpt_tos == [IVAN]
    assert reply.message["Subject"] == "Re: Баланс"
    assert "*100#" in plain_text(reply), "the answer fits the question"
    [stored] = await email_app.messages(IVAN, "in")
    assert stored.text == question
    assert (stored.meta or {}).get("display_name") == "Иван Петров"


async def test_the_same_mail_delivered_twice_is_answered_once(email_app: EmailApp) -> None:
    box = email_app.mailbox
    raw = plain_mail("Какой у меня баланс?", from_=ANNA, to=box.address, subject="Баланс",
                     message_id="<twice@example.test>")
    first = await box.append_async(raw)
    second = await box.append_async(raw)
    assert first != second
    await email_app.smtp.wait_for_async(1, timeout=30)

    async def both_seen() -> bool:
        return SEEN in await box.flags_async(first) and SEEN in await box.flags_async(second)

    await eventually(both_seen, timeout=20)
    await eventually(lambda: email_app.delivered(ANNA))
    assert len(await email_app.messages(ANNA, "in")) == 1
    assert len(email_app.smtp.messages) == 1
    assert len(await email_app.outbox(ANNA)) == 1


ROAMING_ANSWER = (
    "Как пользоваться роумингом:\n"
    "• включить роуминг — в мобильном приложении оператора или командой *140*1#\n"
    "• выключить — *140*0#"
)


@pytest.mark.parametrize("quote", ["russian", "outlook"])
async def test_a_reply_is_understood_by_its_new_text_only(
    email_app: EmailApp, quote: str,
) -> None:
    box = email_app.mailbox
    new_text = "Спасибо. А какой у меня баланс?"
    if quote == "russian":
        quoted = "\n".join(f"> {line}" for line in ROAMING_ANSWER.splitlines())
        history = f"2 марта 2026 г., 10:15, Support <{box.address}> пишет:\n{quoted}"
    else:
        history = (
            f"От: Support <{box.address}>\n"
            "Отправлено: 2 марта 2026 г. 10:15\n"
            f"Кому: Анна <{ANNA}>\n"
            "Тема: RE: Роуминг\n\n" + ROAMING_ANSWER)
    raw = plain_mail(f"{new_text}\n\n{history}\n", from_=f"Анна <{ANNA}>", to=box.address,
                     subject="RE: Роуминг", message_id="<quoted@example.test>",
                     in_reply_to="<old-answer@example.test>",
                     references=["<old-answer@example.test>"])
    await box.append_async(raw)
    [reply] = await email_app.smtp.wait_for_async(1, timeout=30)
    [stored] = await email_app.messages(ANNA, "in")
    assert stored.text == new_text
    answer = plain_text(reply)
    assert "*100#" in answer, "answered the new question (the balance)"
    assert "*140*1#" not in answer, "not the quoted one (roaming)"


async def test_buttons_become_a_numbered_list_and_a_number_picks_one(
    email_app: EmailApp,
) -> None:
    box = email_app.mailbox
    # the general roaming question (turning it on is roaming_enable now, a personal action)
    await box.append_async(plain_mail("Еду за границу, что с роумингом?", from_=ANNA,
                                      to=box.address, subject="Роуминг",
                                      message_id="<r1@example.test>"))
    [first] = await email_app.smtp.wait_for_async(1, timeout=30)
    [answer] = await email_app.messages(ANNA, "out")
    titles = [item["title"] for item in (answer.buttons or {}).get("items", [])]
    assert len(titles) >= 2, "the roaming answer offers countries"
    text = plain_text(first)
    listed = "\n".join(f"{n}. {title}" for n, title in enumerate(titles, start=1))
    assert listed in text
    assert "ответьте на это письмо номером варианта" in text
    assert text.index(listed) < text.index("ответьте на это письмо номером")

    second_payload = answer.buttons["items"][1]["payload"] if answer.buttons else None
    assert second_payload is not None
    ours = first.message["Message-ID"]
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    await box.append_async(plain_mail(
        f"2\n\n2 марта 2026 г., 10:15, Support <{box.address}> пишет:\n{quoted}\n",
        from_=ANNA, to=box.address, subject="Re: Роуминг", message_id="<r2@example.test>",
        in_reply_to=ours, references=["<r1@example.test>", ours]))
    replies = await email_app.smtp.wait_for_async(2, timeout=30)
    chosen = (await stored_in(email_app, ANNA, 2))[1]
    assert chosen.text == "2"
    assert chosen.payload == second_payload
    assert replies[1].message["In-Reply-To"] == "<r2@example.test>"
    country = titles[1]
    assert country[:4].lower() in plain_text(replies[1]).lower(), "the chosen country's answer"


async def test_a_refused_recipient_451_is_retried_and_delivered_later(
    email_app: EmailApp,
) -> None:
    box, smtp = email_app.mailbox, email_app.smtp
    smtp.fail_next("rcpt", 451, "4.7.1 Greylisted, try again later")
    await box.append_async(plain_mail("Какой у меня баланс?", from_=ANNA, to=box.address,
                                      subject="Баланс", message_id="<grey@example.test>"))

    async def refused_once() -> OutboxItem | None:
        rows = await email_app.outbox(ANNA)
        return rows[0] if rows and rows[0].attempts == 1 else None

    row = await eventually(refused_once, timeout=30)
    assert row.status == "pending"
    assert row.last_error is not None and "451" in row.last_error
    assert aware(row.next_attempt_at) > utcnow() + timedelta(seconds=30), \
        "a greylisting pause, not an immediate retry"
    assert smtp.messages == []

    # the greylisting pause is over
    async with email_app.services.db.transaction() as session:
        await session.execute(update(OutboxItem).where(OutboxItem.id == row.id)
                              .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    [reply] = await smtp.wait_for_async(1, timeout=30)
    assert reply.message["In-Reply-To"] == "<grey@example.test>"
    await eventually(lambda: email_app.delivered(ANNA))
    [sent] = await email_app.outbox(ANNA)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert len(smtp.messages) == 1


async def test_a_recipient_refused_for_good_550_fails_and_blocks_the_address(
    email_app: EmailApp,
) -> None:
    box, smtp = email_app.mailbox, email_app.smtp
    smtp.fail_next("rcpt", 550, f"5.1.1 <{ANNA}>: Recipient address rejected: User unknown")
    await box.append_async(plain_mail("Какой у меня баланс?", from_=ANNA, to=box.address,
                                      subject="Баланс", message_id="<gone@example.test>"))

    async def failed() -> OutboxItem | None:
        rows = await email_app.outbox(ANNA)
        return rows[0] if rows and rows[0].status == "failed" else None

    row = await eventually(failed, timeout=30)
    assert row.attempts == 1, "not retried"
    assert row.last_error is not None and "550" in row.last_error
    assert ANNA not in row.last_error, "the address is masked in the stored reason"
    identity = await channel_db.find_identity(email_app.services.db, EMAIL, ANNA)
    assert identity is not None and identity.blocked_at is not None
    assert smtp.messages == []
