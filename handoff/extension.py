"""``HandoffExtension``: the handoff as the app sees it (hooks, routes, background loops)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from ipaddress import ip_address

from fastapi import APIRouter

from bot.config import Settings
from bot.extensions import BackgroundLoop
from bot.notify import Notifier
from handoff.analytics import Analytics
from handoff.assist import Assist
from handoff.audit import AuditTrail
from handoff.audit_views import AuditViews
from handoff.auth import Accounts
from handoff.desk import Desk
from handoff.desk_hooks import DeskHooks
from handoff.events import DeskEvents
from handoff.goodwill import Goodwill
from handoff.login_throttle import LoginThrottle
from handoff.monitor import Monitor
from handoff.routing import Routing
from handoff.search import TranscriptSearch
from handoff.stats import Stats
from handoff.views import DeskViews
from handoff.workforce.service import Workforce

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0
SEARCH_INDEX_EVERY = 30.0  # SQLite's search index follows new messages (a search catches up too)
GOODWILL_RETRY_EVERY = 30.0  # pending grants (the billing was down, a crash) are asked again
GOODWILL_USED_EVERY = 24 * 3600.0  # the billing's "used" flag of recent grants, refreshed daily
READY_TIMEOUT = 15.0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class HandoffExtension:
    settings: Settings
    hooks: DeskHooks
    accounts: Accounts
    limiter: LoginThrottle
    desk: Desk
    views: DeskViews
    stats: Stats
    events: DeskEvents
    notifier: Notifier
    audit: AuditTrail
    audit_views: AuditViews
    monitor: Monitor
    search: TranscriptSearch
    analytics: Analytics
    routing: Routing
    assist: Assist
    goodwill: Goodwill
    workforce: Workforce
    router_list: list[APIRouter] = field(default_factory=list)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def routers(self) -> list[APIRouter]:
        return list(self.router_list)

    def background(self) -> list[BackgroundLoop]:
        return [self._bootstrap, self._housekeeping, self._search_index, self._goodwill_grants,
                self._goodwill_used]

    async def ready(self) -> None:
        """Wait (briefly) until start-up accounts exist, so the first login cannot race them."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT)

    async def _bootstrap(self, stop: asyncio.Event) -> None:
        """ABONENT_ADMIN_PASSWORD creates (or resets) the supervisor ``admin``."""
        if not self.settings.plain_http and not _loopback(self.settings.host):
            # browsers drop a Secure cookie set over plain HTTP except on loopback
            log.info("desk cookies are Secure: serve the desk over HTTPS, or set "
                     "ABONENT_PLAIN_HTTP=true to use it over plain HTTP")
        try:
            if self.settings.admin_password is not None:
                await self.accounts.ensure_admin(self.settings.admin_password.get_secret_value())
        except Exception:  # the app keeps serving; the log says why nobody can log in
            log.exception("could not create the supervisor 'admin'")
        finally:
            self._ready.set()

    async def _search_index(self, stop: asyncio.Event) -> None:
        """Index the transcript for search at start-up (a long SQLite history takes a while:
        better now than in a supervisor's first search), then keep up every 30 s."""
        while not stop.is_set():
            try:
                indexed = await self.search.catch_up()
                if indexed >= 1000:
                    log.info("search index: %d new messages indexed", indexed)
            except Exception:  # the next round (or a search) tries again
                log.exception("indexing messages for search failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SEARCH_INDEX_EVERY)

    async def _goodwill_grants(self, stop: asyncio.Event) -> None:
        """Grant what the policy granted: at once after a claim (the desk wakes this loop), and
        every 30 s for grants the billing could not confirm yet (pending ones survive a
        restart; the idempotency key keeps a repeat from being a second bonus)."""
        wake = self.goodwill.wake
        while not stop.is_set():
            wake.clear()
            try:
                await self.goodwill.grant_pending()
            except Exception:  # the next round tries again
                log.exception("granting goodwill bonuses failed")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=GOODWILL_RETRY_EVERY,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _goodwill_used(self, stop: asyncio.Event) -> None:
        """Once a day (and at start-up), which granted bonuses the subscribers used."""
        while not stop.is_set():
            try:
                await self.goodwill.refresh_used()
            except Exception:
                log.exception("refreshing the goodwill bonuses' 'used' flag failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), GOODWILL_USED_EVERY)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PURGE_EVERY)
            if stop.is_set():
                return
            try:
                purged = await self.accounts.purge_expired()
                if purged:
                    log.info("removed %d expired desk session(s)", purged)
            except Exception:
                log.exception("purging expired desk sessions failed")
