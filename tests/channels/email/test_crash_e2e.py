"""Crashes, restarts and rebuilt mailboxes, end to end.

The real app process is killed after storing a mail and before answering it (the
``after_accept`` failpoint): the mail is still unread in the mailbox, and after a restart the
subscriber gets exactly one reply and the mail becomes \\Seen. Killed right after the SMTP
server took a reply, the app sends it again under the same Message-ID. A mailbox given a new
UIDVALIDITY (restored from a backup, rebuilt by the server) while the app runs or while it is
down: mail that arrives afterwards is answered, and no old mail is answered twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cursors import Cursors
from bot.messages import utcnow
from bot.storage import Database, OutboxItem
from channels.email.extension import EmailExtension
from channels.email.intake import EMAIL
from nlu.server import RasaServer
from tests.channels.email.mails import plain_mail
from tests.support import channel_db
from tests.support.email_app import EmailApp, email_env, running_email_app
from tests.support.mail import Mailbox, SmtpSink
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa

ANNA = "anna@example.test"
IVAN = "ivan@example.test"
SEEN = "\\Seen"
CURSOR = "email:INBOX"


@pytest.fixture
def app_env(database_url: str, rasa_server: RasaServer, mailbox: Mailbox,
            smtp: SmtpSink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EMAIL_", "VK_", "TELEGRAM_")) and k != "ABONENT_FAILPOINT"}
    env.update(DATABASE_URL=database_url, RASA_URL=rasa_server.url, RASA_TOKEN=rasa_server.token,
               OUTBOX_POLL="0.2", **email_env(mailbox, smtp))
    return env


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def test_killed_after_storing_a_mail_replies_once_after_restart(
    app_env: dict[str, str], mailbox: Mailbox, smtp: SmtpSink, db: Database, tmp_path: Path,
) -> None:
    uid = await mailbox.append_async(plain_mail(
        "Здравствуйте! Какой у меня баланс?", from_=f"Анна <{ANNA}>", to=mailbox.address,
        subject="Баланс", message_id="<crash@example.test>"))
    port = free_port()

    doomed = AppProcess({**app_env, "ABONENT_FAILPOINT": "after_accept"}, port,
                        tmp_path / "doomed.log")
    try:
        code = await asyncio.to_thread(doomed.process.wait, 90)
        assert code == 75, f"died at the failpoint, like a kill -9:\n{doomed.log_tail()}"
    finally:
        doomed.stop()
    [stored] = await channel_db.stored_messages(db, EMAIL, ANNA)
    assert (stored.direction, stored.processed_at) == ("in", None), "stored, not answered"
    assert SEEN not in await mailbox.flags_async(uid), "not \\Seen before it is answered"
    assert smtp.messages == []
    # more mail comes while the app is down
    await mailbox.append_async(plain_mail(
        "Как подключить роуминг?", from_=IVAN, to=mailbox.address, subject="Роуминг",
        message_id="<while-down@example.test>"))

    revived = AppProcess(app_env, port, tmp_path / "revived.log")
    try:
        await smtp.wait_for_async(2, timeout=60)

        async def settled() -> bool:
            return (SEEN in await mailbox.flags_async(uid)
                    and await channel_db.delivered(db, EMAIL, ANNA)
                    and await channel_db.delivered(db, EMAIL, IVAN))

        await eventually(settled, timeout=30)
        assert len(await channel_db.stored_messages(db, EMAIL, ANNA, "in")) == 1, \
            "the mail read again was a duplicate"
        answered = sorted(m.message["In-Reply-To"] for m in smtp.messages)
        assert answered == ["<crash@example.test>", "<while-down@example.test>"], \
            "each mail answered exactly once"
        [reply] = [m for m in smtp.messages if m.rcpt_tos == [ANNA]]
        body = reply.message.get_body(("plain",))
        assert body is not None and "*100#" in body.get_content()
        for who in (ANNA, IVAN):
            assert {r.status for r in await channel_db.outbox_rows(db, EMAIL, who)} == {"sent"}
    finally:
        revived.stop()


async def test_killed_after_sending_a_reply_sends_it_again_with_the_same_message_id(
    app_env: dict[str, str], mailbox: Mailbox, smtp: SmtpSink, db: Database, tmp_path: Path,
) -> None:
    await mailbox.append_async(plain_mail(
        "Какой у меня баланс?", from_=ANNA, to=mailbox.address, subject="Баланс",
        message_id="<lost-ack@example.test>"))
    port = free_port()
    doomed = AppProcess({**app_env, "ABONENT_FAILPOINT": "before_sent"}, port,
                        tmp_path / "doomed.log")
    try:
        code = await asyncio.to_thread(doomed.process.wait, 90)
        assert code == 75, f"died right after the SMTP server took the reply:\n{doomed.log_tail()}"
    finally:
        doomed.stop()
    [first] = smtp.messages
    [row] = await channel_db.outbox_rows(db, EMAIL, ANNA)
    assert row.status == "pending", "the send was not recorded"
    # the dead sender's claim on the row expires (two minutes): let that time pass
    async with db.transaction() as session:
        await session.execute(update(OutboxItem).where(OutboxItem.id == row.id)
                              .values(locked_until=utcnow() - timedelta(seconds=1)))

    revived = AppProcess(app_env, port, tmp_path / "revived.log")
    try:
        await smtp.wait_for_async(2, timeout=60)
        await eventually(lambda: channel_db.delivered(db, EMAIL, ANNA), timeout=30)
        again = smtp.messages[1]
        assert again.message["Message-ID"] == first.message["Message-ID"], \
            "at least once, under one Message-ID: the subscriber's client shows it once"
        assert again.message["In-Reply-To"] == "<lost-ack@example.test>"
        assert len(await channel_db.stored_messages(db, EMAIL, ANNA, "out")) == 1
        [sent] = await channel_db.outbox_rows(db, EMAIL, ANNA)
        assert sent.status == "sent"
    finally:
        revived.stop()


def email_extension(app: EmailApp) -> EmailExtension:
    return next(e for e in app.services.extensions if isinstance(e, EmailExtension))


async def cursor_at(app: EmailApp, validity: int, uid: int) -> None:
    """Wait until the reader has stored, flagged and moved past ``uid`` under ``validity``."""
    cursors = Cursors(app.services.db)
    await eventually(lambda: _cursor_is(cursors, f"{validity}:{uid}"), timeout=20)


async def _cursor_is(cursors: Cursors, value: str) -> bool:
    return await cursors.get(CURSOR) == value


def clear_seen(mailbox: Mailbox, uid: int) -> None:
    """A backup restored without its flags: the old mail looks unread again."""
    with mailbox.session() as conn:
        conn.select("INBOX")
        typ, data = conn.uid("STORE", str(uid), "-FLAGS.SILENT", "(\\Seen)")
        assert typ == "OK", data


@pytest.mark.parametrize("keep_mail", [True, False], ids=["mail-kept", "emptied"])
async def test_a_new_uidvalidity_while_running_loses_and_repeats_nothing(
    database_url: str, rasa_server: RasaServer, mailbox: Mailbox, smtp: SmtpSink,
    keep_mail: bool,
) -> None:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        old = await mailbox.append_async(plain_mail(
            "Какой у меня баланс?", from_=ANNA, to=mailbox.address, subject="Баланс",
            message_id="<before@example.test>"))
        await smtp.wait_for_async(1, timeout=30)
        await cursor_at(app, await mailbox.uidvalidity_async(), old)

        validity = await mailbox.recreate_async(keep_mail=keep_mail)  # the reader is kicked
        assert await mailbox.uids_async() == ([1] if keep_mail else [])
        new = await mailbox.append_async(plain_mail(
            "Как подключить роуминг?", from_=ANNA, to=mailbox.address, subject="Роуминг",
            message_id="<after@example.test>"))
        if not keep_mail:
            assert new == old, "UIDs started again: the old cursor would skip this mail"

        replies = await smtp.wait_for_async(2, timeout=30)
        assert replies[1].message["In-Reply-To"] == "<after@example.test>"
        await cursor_at(app, validity, new)
        await eventually(lambda: app.delivered(ANNA))
        assert [m.message["In-Reply-To"] for m in smtp.messages] == [
            "<before@example.test>", "<after@example.test>"]
        assert email_extension(app).reader.stored == 2, "the old mail was not read again"
        assert SEEN in await mailbox.flags_async(new)


async def test_a_new_uidvalidity_between_runs_loses_and_repeats_nothing(
    database_url: str, rasa_server: RasaServer, mailbox: Mailbox, smtp: SmtpSink,
) -> None:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        old = await mailbox.append_async(plain_mail(
            "Какой у меня баланс?", from_=ANNA, to=mailbox.address, subject="Баланс",
            message_id="<old@example.test>"))
        await smtp.wait_for_async(1, timeout=30)
        await cursor_at(app, await mailbox.uidvalidity_async(), old)
        await eventually(lambda: app.delivered(ANNA))

    # while the app is down the mailbox is restored from a backup: new UIDVALIDITY, UIDs from
    # 1, and the old mail's \Seen lost; then new mail arrives
    validity = await mailbox.recreate_async()
    await asyncio.to_thread(clear_seen, mailbox, 1)
    new = await mailbox.append_async(plain_mail(
        "Как подключить роуминг?", from_=ANNA, to=mailbox.address, subject="Роуминг",
        message_id="<new@example.test>"))

    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        replies = await smtp.wait_for_async(2, timeout=30)
        assert replies[1].message["In-Reply-To"] == "<new@example.test>"
        await cursor_at(app, validity, new)
        await eventually(lambda: app.delivered(ANNA))
        assert [m.message["In-Reply-To"] for m in smtp.messages] == [
            "<old@example.test>", "<new@example.test>"], "the old mail is not answered again"
        assert len(await app.messages(ANNA, "in")) == 2
        assert SEEN in await mailbox.flags_async(1), "the old mail, read again, is \\Seen"
