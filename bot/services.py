"""The composition root: builds every collaborator once, from settings, and wires them.

Channels plug in through :class:`ChannelPlugin`: a channel gets the services, may mount a
router (webhooks) and may run background loops (polling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from fastapi import APIRouter

from bot.config import Settings
from bot.conversations import Conversations
from bot.handoff_hooks import BasicHandoff, HandoffHooks
from bot.notify import Notifier
from bot.outbox import OutboxSender
from bot.policy import DialoguePolicy
from bot.storage import Database
from channels.base import Channel
from channels.web import WebChatChannel
from knowledge_base import KnowledgeBase, load_knowledge_base
from nlu import CircuitBreaker, NluClient, ParseCache

log = logging.getLogger(__name__)


class ChannelPlugin(Protocol):
    """A channel as the app sees it: something to send through, maybe a router, maybe loops."""

    channel: Channel

    def routers(self) -> list[APIRouter]: ...

    def background(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]: ...


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
    plugins: list[ChannelPlugin] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self.settings.auto_migrate:
            await self.db.upgrade()
        loops: list[Callable[[asyncio.Event], Awaitable[None]]] = [self.outbox.run]
        for plugin in self.plugins:
            loops += plugin.background()
        self._tasks = [asyncio.create_task(loop(self._stop)) for loop in loops]
        self._tasks.append(asyncio.create_task(self._recover()))

    async def _recover(self) -> None:
        count = await self.conversations.recover()
        if count:
            log.info("answered %d conversation(s) left unanswered by the previous run", count)
            self.notifier.outbox.publish()

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.http.aclose()
        await self.db.close()


def build_services(
    settings: Settings,
    *,
    kb: KnowledgeBase | None = None,
    handoff: HandoffHooks | None = None,
) -> Services:
    if not settings.rasa_url:
        raise ValueError(
            "RASA_URL is not set: `abonent run` starts a local Rasa server and sets it; "
            "otherwise point RASA_URL at a running Rasa server."
        )
    kb = kb or load_knowledge_base(settings.kb_dir)
    db = Database(settings.database_url)
    http = httpx.AsyncClient(timeout=settings.nlu_timeout)
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    nlu = NluClient(
        http,
        settings.rasa_url,
        token,
        retries=settings.nlu_retries,
        timeout=settings.nlu_timeout,
        breaker=CircuitBreaker(),
        cache=ParseCache(settings.nlu_cache_size) if settings.nlu_cache_size else None,
    )
    notifier = Notifier()
    policy = DialoguePolicy(kb)
    handoff = handoff or BasicHandoff(kb)
    conversations = Conversations(db, nlu, policy, handoff, notifier)
    channels: dict[str, Channel] = {WebChatChannel.name: WebChatChannel()}
    outbox = OutboxSender(
        db,
        channels,
        notifier,
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
    )
    return Services(
        settings=settings, db=db, kb=kb, http=http, nlu=nlu, notifier=notifier, policy=policy,
        handoff=handoff, conversations=conversations, channels=channels, outbox=outbox,
    )
