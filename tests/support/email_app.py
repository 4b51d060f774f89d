"""The app with the e-mail channel on, as its tests see it: reading a fresh mailbox of the real
Dovecot (tests/support/mail.py) and replying through the SMTP sink, and what it stored for a
sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr

from bot.app import create_app
from bot.config import Settings
from bot.services import Services
from bot.storage import Conversation, Message, OutboxItem
from channels.email.intake import EMAIL
from nlu.server import RasaServer
from tests.support import channel_db
from tests.support.app import app_settings
from tests.support.mail import Mailbox, SmtpSink
from tests.support.servers import LiveServer


@dataclass
class EmailApp:
    """The running app with e-mail on, and what a test needs to look inside."""

    mailbox: Mailbox
    smtp: SmtpSink
    url: str
    services: Services
    settings: Settings

    async def messages(self, sender: str, direction: str | None = None) -> list[Message]:
        return await channel_db.stored_messages(self.services.db, EMAIL, sender, direction)

    async def outbox(self, sender: str) -> list[OutboxItem]:
        return await channel_db.outbox_rows(self.services.db, EMAIL, sender)

    async def conversation(self, sender: str) -> Conversation | None:
        return await channel_db.latest_conversation(self.services.db, EMAIL, sender)

    async def delivered(self, sender: str) -> bool:
        return await channel_db.delivered(self.services.db, EMAIL, sender)


def email_settings(mailbox: Mailbox, smtp: SmtpSink) -> dict[str, object]:
    return {
        "email_imap_host": mailbox.host,
        "email_imap_port": str(mailbox.port),
        "email_imap_user": mailbox.address,
        "email_imap_password": SecretStr(mailbox.password),
        "email_imap_security": "none",
        "email_smtp_host": smtp.host,
        "email_smtp_port": str(smtp.port),
        "email_smtp_security": "none",
    }


def email_env(mailbox: Mailbox, smtp: SmtpSink) -> dict[str, str]:
    """The same settings as environment variables, for the app as a process."""
    return {
        "EMAIL_IMAP_HOST": mailbox.host, "EMAIL_IMAP_PORT": str(mailbox.port),
        "EMAIL_IMAP_USER": mailbox.address, "EMAIL_IMAP_PASSWORD": mailbox.password,
        "EMAIL_IMAP_SECURITY": "none", "EMAIL_SMTP_HOST": smtp.host,
        "EMAIL_SMTP_PORT": str(smtp.port), "EMAIL_SMTP_SECURITY": "none",
    }


@asynccontextmanager
async def running_email_app(
    database_url: str, rasa: RasaServer, mailbox: Mailbox, smtp: SmtpSink, **overrides: object
) -> AsyncIterator[EmailApp]:
    settings = app_settings(database_url, rasa, **email_settings(mailbox, smtp), **overrides)
    app = create_app(settings)
    async with LiveServer(app) as server:
        yield EmailApp(mailbox, smtp, server.url, app.state.services, settings)
