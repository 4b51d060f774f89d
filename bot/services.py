"""The composition root: builds every collaborator once, from settings, and wires them.

Parts plug in as :class:`bot.extensions.Extension` (routes, background loops); channels as
:class:`bot.extensions.ChannelExtension` (plus a sender).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx

from backoffice.billing_demo import DemoBilling
from backoffice.billing_http import HttpBilling
from backoffice.sms_dev import DevelopmentSmsGateway
from backoffice.sms_http import HttpSmsGateway
from bot.backoffice_contract import Billing, SmsGateway
from bot.channel import Channel
from bot.config import Settings
from bot.conversations import Conversations
from bot.extensions import BackgroundLoop, ChannelExtension, Extension
from bot.handoff_contract import HandoffHooks
from bot.leader import LeaderElection, split_loops
from bot.notify import Notifier
from bot.outbox import OutboxSender
from bot.personal import PersonalData
from bot.pg_connect import connect
from bot.phones import format_phone
from bot.policy import DialoguePolicy
from bot.ratelimit import LimitStore, build_limit_store
from bot.storage import Database
from bot.verification import VerificationService
from channels.web import WebChatChannel
from handoff.build import build_handoff
from knowledge_base import KnowledgeBase, PhraseKey, load_knowledge_base
from knowledge_base.keywords import KeywordMatcher
from nlu import CircuitBreaker, NluClient, ParseCache
from nlu.normalize import warm_up as warm_up_normalisation

log = logging.getLogger(__name__)

RECOVERY_INTERVAL_SECONDS = 60.0


@dataclass
class Services:
    settings: Settings
    db: Database
    kb: KnowledgeBase
    http: httpx.AsyncClient
    nlu: NluClient
    notifier: Notifier
    policy: DialoguePolicy
    handoff: HandoffHooks
    conversations: Conversations
    channels: dict[str, Channel]
    outbox: OutboxSender
    limits: LimitStore
    extensions: list[Extension] = field(default_factory=list)
    leader: LeaderElection | None = None  # PostgreSQL with pollers: who runs them
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self.settings.auto_migrate:
            await self.db.upgrade()
        await self.notifier.start()
        # the outbox sender, the recovery sweep and the desk's loops are safe in every process
        # (row claims and per-conversation locks); pollers run in one process (bot/leader.py)
        everywhere, pollers = split_loops(self.extensions)
        loops: list[BackgroundLoop] = [self.outbox.run, *everywhere, self._recover]
        if pollers and not self.db.is_sqlite:
            self.leader = LeaderElection(lambda: connect(self.db.url), pollers)
            loops.append(self.leader.run)
        else:
            loops += pollers  # SQLite is one process: it polls itself
        self._tasks = [asyncio.create_task(loop(self._stop)) for loop in loops]

    async def _recover(self, stop: asyncio.Event) -> None:
        """At start, answer what a crash left stored but unanswered; later, sweep periodically
        for anything a failed pass left behind (the per-conversation lock makes this safe)."""
        while not stop.is_set():
            try:
                count = await self.conversations.recover()
            except Exception:  # the sweep must survive a database hiccup
                log.exception("recovery sweep failed")
                count = 0
            if count:
                log.info("answered %d conversation(s) with unanswered messages", count)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECOVERY_INTERVAL_SECONDS)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.notifier.stop()
        await self.conversations.close()
        await self.limits.close()
        await self.http.aclose()
        await self.db.close()


def build_services(settings: Settings) -> Services:
    if not settings.rasa_url:
        raise ValueError(
            "RASA_URL is not set: `abonent run` starts a local Rasa server and sets it; "
            "otherwise point RASA_URL at a running Rasa server."
        )
    kb = load_knowledge_base(settings.kb_dir)
    db = Database(settings.database_url.get_secret_value())
    limits = build_limit_store(settings, db)  # shared by every app process (bot/ratelimit)
    http = httpx.AsyncClient(timeout=settings.nlu_timeout)
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    warm_up_normalisation()
    nlu = NluClient(
        http,
        settings.rasa_url,
        token,
        retries=settings.nlu_retries,
        timeout=settings.nlu_timeout,
        breaker=CircuitBreaker(),
        cache=ParseCache(settings.nlu_cache_size) if settings.nlu_cache_size else None,
        keywords=KeywordMatcher.default().with_countries(kb.country_lookup()),
    )
    # on PostgreSQL wake-ups reach every app process (LISTEN/NOTIFY); SQLite is one process
    notifier = Notifier.for_database(db.url)
    policy = DialoguePolicy(kb, region=settings.phone_default_region)
    personal = build_personal_data(settings, db, kb, http)
    desk = build_handoff(settings=settings, db=db, kb=kb, notifier=notifier, limits=limits,
                         billing=personal.billing)
    handoff = desk.hooks
    conversations = Conversations(
        db, nlu, policy, handoff, notifier, kb=kb, max_attempts=settings.processing_max_attempts,
        personal=personal,
        pulled_channels=frozenset({WebChatChannel.name}),
    )
    extensions: list[Extension] = [desk]
    channels: dict[str, Channel] = {WebChatChannel.name: WebChatChannel()}
    for extension in _channel_extensions(settings, conversations, db, kb):
        channels[extension.channel.name] = extension.channel
        extensions.append(extension)
    outbox = OutboxSender(
        db,
        channels,
        notifier,
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
        limits=limits,
    )
    return Services(
        settings=settings, db=db, kb=kb, http=http, nlu=nlu, notifier=notifier, policy=policy,
        handoff=handoff, conversations=conversations, channels=channels, outbox=outbox,
        limits=limits, extensions=extensions,
    )


def build_personal_data(
    settings: Settings, db: Database, kb: KnowledgeBase, http: httpx.AsyncClient
) -> PersonalData:
    """The billing and the SMS gateway (HTTP when configured, else the embedded demo billing and
    the development gateway), and the one-time codes sent through it."""
    billing: Billing
    if settings.billing_url:
        token = settings.billing_token.get_secret_value() if settings.billing_token else None
        billing = HttpBilling(http, settings.billing_url, token, timeout=settings.billing_timeout,
                              breaker=CircuitBreaker())
    elif settings.is_production:
        raise ValueError("BILLING_URL is not set: production needs the operator's billing "
                         "(the embedded demo billing answers with fictional subscribers); see "
                         "README, 'Identity and personal data'")
    else:
        demo = DemoBilling.load()
        billing = demo
        log.warning("BILLING_URL is not set: using the embedded DEMO billing; its fictional "
                    "numbers: %s", ", ".join(format_phone("+" + number) for number in demo.msisdns))
    sms: SmsGateway
    if settings.sms_gateway_url:
        token = (settings.sms_gateway_token.get_secret_value()
                 if settings.sms_gateway_token else None)
        sms = HttpSmsGateway(http, settings.sms_gateway_url, token)
    else:
        sms = DevelopmentSmsGateway(environment=settings.environment)  # refused in production
        log.warning("SMS_GATEWAY_URL is not set: one-time codes are written to this log, "
                    "not sent (development only)")
    key = settings.verification_code_key
    verification = VerificationService(
        db, sms, message=lambda code: kb.phrase(PhraseKey.SMS_CODE, "ru", code=code),
        code_key=key.get_secret_value().encode() if key else b"",
    )
    return PersonalData(billing, verification, ttls=settings.verification_ttls)


def _channel_extensions(
    settings: Settings, conversations: Conversations, db: Database, kb: KnowledgeBase
) -> list[ChannelExtension]:
    """Channels with credentials are on; the others are simply off."""
    found: list[ChannelExtension] = []
    if settings.telegram_bot_token:
        from channels.telegram import build_telegram

        found.append(build_telegram(settings=settings, conversations=conversations, db=db))
    if settings.vk_group_token:
        from channels.vk import build_vk

        found.append(build_vk(settings=settings, conversations=conversations, db=db))
    if settings.email_imap_host:
        from channels.email.extension import build_email

        found.append(build_email(settings=settings, conversations=conversations, db=db, kb=kb))
    return found
