"""Handoff by e-mail, end to end: a subscriber asks for a person by mail, an agent claims the
conversation and replies through the desk API, the reply arrives as an e-mail in the thread (not
marked as an automatic reply), the subscriber's answer by mail goes to the agent, and after the
agent closes, the rating question arrives by mail and a reply "5" is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.storage import ConversationState, Message
from handoff.tables import Handoff
from nlu.server import RasaServer
from tests.channels.email.mails import plain_mail
from tests.support.desk import Desk, module_of
from tests.support.email_app import EmailApp, running_email_app
from tests.support.mail import CapturedMail, Mailbox, SmtpSink
from tests.support.waiting import eventually

pytestmark = pytest.mark.rasa

ANNA = "anna@example.test"
AGENT_TEXT = "Здравствуйте! Роуминг в Турции подключён, цены пришлю отдельным письмом."


@pytest.fixture
async def email_app(database_url: str, rasa_server: RasaServer, mailbox: Mailbox,
                    smtp: SmtpSink) -> AsyncIterator[EmailApp]:
    async with running_email_app(database_url, rasa_server, mailbox, smtp) as app:
        yield app


@pytest.fixture
async def desk(email_app: EmailApp) -> AsyncIterator[Desk]:
    async with httpx.AsyncClient(base_url=email_app.url, timeout=30) as http:
        await module_of(email_app.services).ready()
        yield Desk(email_app.url, http, email_app.services)


def plain_text(mail: CapturedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def stored_in(app: EmailApp, sender: str, count: int) -> list[Message]:
    async def enough() -> list[Message] | None:
        found = await app.messages(sender, "in")
        return found if len(found) >= count else None

    return await eventually(enough, timeout=20)


async def detail(desk: Desk, agent_headers: dict[str, str], conversation: str) -> dict[str, Any]:
    response = await desk.http.get(f"/api/desk/conversations/{conversation}",
                                   headers=agent_headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_an_agent_answers_by_e_mail_in_the_thread_and_is_rated(
    email_app: EmailApp, desk: Desk,
) -> None:
    box, smtp = email_app.mailbox, email_app.smtp
    await box.append_async(plain_mail("Позовите оператора", from_=f"Анна <{ANNA}>",
                                      to=box.address, subject="Роуминг",
                                      message_id="<help@example.test>"))
    [waiting] = await smtp.wait_for_async(1, timeout=30)
    assert waiting.message["In-Reply-To"] == "<help@example.test>"
    assert waiting.message["Auto-Submitted"] == "auto-replied", "the bot's own words"
    conversation = await email_app.conversation(ANNA)
    assert conversation is not None and conversation.state == ConversationState.WAITING_AGENT

    agent = await desk.create_agent("anna_agent")
    queued = (await desk.queue(agent))["waiting"]
    assert [item["conversation_id"] for item in queued] == [conversation.id]
    assert (await desk.post(agent, conversation.id, "claim")).status_code == 200
    await smtp.wait_for_async(2, timeout=30)  # "an agent joined"

    sent = await desk.post(agent, conversation.id, "messages", {"text": AGENT_TEXT})
    assert sent.status_code == 201, sent.text
    reply = (await smtp.wait_for_async(3, timeout=30))[2]
    message = reply.message
    assert reply.rcpt_tos == [ANNA]
    assert AGENT_TEXT in plain_text(reply)
    assert message["In-Reply-To"] == "<help@example.test>"
    assert message["References"].split()[-1] == "<help@example.test>"
    assert message["Subject"] == "Re: Роуминг"
    assert message["Auto-Submitted"] is None, "a person's reply is no automatic reply"
    assert message["X-Auto-Response-Suppress"] is None

    # the subscriber answers the agent's mail: it goes to the agent, the bot stays silent
    await box.append_async(plain_mail(
        f"Спасибо! А сколько стоит интернет?\n\n> {AGENT_TEXT}\n", from_=f"Анна <{ANNA}>",
        to=box.address, subject="Re: Роуминг", message_id="<answer@example.test>",
        in_reply_to=message["Message-ID"],
        references=["<help@example.test>", message["Message-ID"]]))
    answer = (await stored_in(email_app, ANNA, 2))[1]
    assert answer.conversation_id == conversation.id
    assert answer.text == "Спасибо! А сколько стоит интернет?"
    await eventually(lambda: email_app.delivered(ANNA))
    now = await email_app.conversation(ANNA)
    assert now is not None and now.state == ConversationState.WITH_AGENT
    said = [m["text"] for m in (await detail(desk, agent.headers, conversation.id))
            ["card"]["transcript"] if m["sender"] == "subscriber"]
    assert said[-1] == "Спасибо! А сколько стоит интернет?", "the agent sees it"
    assert len(smtp.messages) == 3, "no bot reply to a conversation with an agent"
    assert not [m for m in await email_app.messages(ANNA, "out")
                if m.reply_to_id == answer.id], "nothing answered it automatically"

    # the agent closes: the rating question comes by mail, in the thread
    closed = await desk.post(agent, conversation.id, "close", {"resolution": "roaming on"})
    assert closed.status_code == 200, closed.text
    closing = (await smtp.wait_for_async(5, timeout=30))[3:]
    question = closing[-1]
    assert all(m.message["In-Reply-To"] == "<answer@example.test>" for m in closing)
    asked = plain_text(question)
    assert "от 1" in asked
    assert "5. 5" in asked and "номером варианта" in asked, "the rating buttons as a list"

    await box.append_async(plain_mail(
        "5", from_=f"Анна <{ANNA}>", to=box.address, subject="Re: Роуминг",
        message_id="<rating@example.test>", in_reply_to=question.message["Message-ID"],
        references=["<help@example.test>", question.message["Message-ID"]]))
    thanks = (await smtp.wait_for_async(6, timeout=30))[5]
    assert "Спасибо за оценку" in plain_text(thanks)
    assert thanks.message["In-Reply-To"] == "<rating@example.test>"
    async with email_app.services.db.sessions() as session:
        handoff = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation.id))
    assert handoff is not None and handoff.rating == 5
    rated = (await stored_in(email_app, ANNA, 3))[2]
    assert rated.conversation_id == conversation.id, "the rating lands in the same thread"


async def handoff_of(app: EmailApp, conversation_id: str) -> Handoff:
    async with app.services.db.sessions() as session:
        found = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1))
    assert found is not None
    return found


async def test_the_reply_limit_does_not_silence_a_conversation_with_an_agent(
    database_url: str, rasa_server: RasaServer, mailbox: Mailbox, smtp: SmtpSink,
) -> None:
    async with running_email_app(database_url, rasa_server, mailbox, smtp,
                                 email_auto_replies_per_hour=2) as app, \
            httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        await module_of(app.services).ready()
        desk = Desk(app.url, http, app.services)
        await mailbox.append_async(plain_mail("Позовите оператора", from_=ANNA,
                                              to=mailbox.address, subject="Роуминг",
                                              message_id="<limit-help@example.test>"))
        await smtp.wait_for_async(1, timeout=30)
        conversation = await app.conversation(ANNA)
        assert conversation is not None
        agent = await desk.create_agent("boris_agent")
        assert (await desk.post(agent, conversation.id, "claim")).status_code == 200
        sent = await desk.post(agent, conversation.id, "messages", {"text": AGENT_TEXT})
        assert sent.status_code == 201
        agent_mail = (await smtp.wait_for_async(3, timeout=30))[2]  # waiting, joined, agent

        await mailbox.append_async(plain_mail(
            "Спасибо! А сколько стоит интернет?", from_=ANNA, to=mailbox.address,
            subject="Re: Роуминг", message_id="<limit-answer@example.test>",
            in_reply_to=agent_mail.message["Message-ID"]))
        answer = (await stored_in(app, ANNA, 2))[1]
        assert not (answer.meta or {}).get("no_reply"), "a mail to a person is no loop"

        assert (await desk.post(agent, conversation.id, "close")).status_code == 200
        question = (await smtp.wait_for_async(5, timeout=30))[4]
        await mailbox.append_async(plain_mail(
            "5", from_=ANNA, to=mailbox.address, subject="Re: Роуминг",
            message_id="<limit-rating@example.test>",
            in_reply_to=question.message["Message-ID"]))
        await stored_in(app, ANNA, 3)
        await eventually(lambda: app.delivered(ANNA))
        assert (await handoff_of(app, conversation.id)).rating == 5
