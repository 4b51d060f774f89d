"""The e-mail channel as the app sees it (``bot.extensions.ChannelExtension``), built from
settings: the IMAP reader (a background loop), the worker that answers stored mail, and the
SMTP channel the outbox sends through."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import APIRouter

from bot.config import Settings
from bot.conversations import Conversations
from bot.cursors import Cursors
from bot.extensions import BackgroundLoop
from bot.storage import Database
from channels.common.worker import ConversationWorker
from channels.email.channel import EmailChannel
from channels.email.imap_reader import MailboxReader
from channels.email.intake import EmailIntake
from channels.email.options import EmailOptions
from channels.email.smtp_sender import SmtpSender
from channels.email.threads import ThreadIndex
from knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class EmailExtension:
    options: EmailOptions
    channel: EmailChannel
    intake: EmailIntake
    reader: MailboxReader
    worker: ConversationWorker

    def routers(self) -> list[APIRouter]:
        return []

    def background(self) -> list[BackgroundLoop]:
        return [self.worker.run, self.lifecycle, self.reader.run]

    def pollers(self) -> list[BackgroundLoop]:
        """The loop of ``background()`` that reads the mailbox: one process runs it
        (bot/leader.py)."""
        return [self.reader.run]

    async def lifecycle(self, stop: asyncio.Event) -> None:
        log.info("email: reading %s on %s as %s, replying from %s",
                 self.options.imap.folder, self.options.imap.host, "the configured user",
                 self.options.domain)
        for warning in self.options.warnings():
            log.warning("email: %s", warning)
        await stop.wait()


def email_options(settings: Settings) -> EmailOptions:
    def secret(value: object) -> str | None:
        getter = getattr(value, "get_secret_value", None)
        return str(getter()) if getter is not None else None

    return EmailOptions.from_values(
        imap_host=settings.email_imap_host,
        imap_port=settings.email_imap_port,
        imap_user=settings.email_imap_user,
        imap_password=secret(settings.email_imap_password),
        imap_security=settings.email_imap_security,
        imap_folder=settings.email_imap_folder,
        smtp_host=settings.email_smtp_host,
        smtp_port=settings.email_smtp_port,
        smtp_user=settings.email_smtp_user,
        smtp_password=secret(settings.email_smtp_password),
        smtp_security=settings.email_smtp_security,
        from_address=settings.email_from,
    )


def build_email(*, settings: Settings, conversations: Conversations, db: Database,
                kb: KnowledgeBase) -> EmailExtension:
    options = email_options(settings)
    threads = ThreadIndex(db)
    worker = ConversationWorker(conversations)
    own = tuple({options.from_address.lower(), options.imap.user.lower()})
    intake = EmailIntake(db=db, conversations=conversations, threads=threads, worker=worker,
                         own_addresses=own,
                         auto_replies_per_hour=settings.email_auto_replies_per_hour)
    channel = EmailChannel(db=db, sender=SmtpSender(options.smtp), threads=threads, kb=kb,
                           from_address=options.from_address)
    reader = MailboxReader(options.imap, Cursors(db), intake.store)
    return EmailExtension(options=options, channel=channel, intake=intake, reader=reader,
                          worker=worker)
