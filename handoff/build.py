"""``build_handoff``: the handoff built from settings (called by the composition root)."""

from __future__ import annotations

from datetime import timedelta

from bot.backoffice_contract import Billing
from bot.config import Settings
from bot.notify import Notifier
from bot.ratelimit import LimitStore, build_limit_store
from bot.storage import Database
from handoff import api, assist_api, audit_api, monitor_api, page, routing_api
from handoff.analytics import Analytics
from handoff.analytics import api as analytics_api
from handoff.assist import Assist
from handoff.audit import AuditTrail
from handoff.audit_views import AuditViews
from handoff.auth import Accounts
from handoff.desk import Desk
from handoff.desk_hooks import DeskHooks
from handoff.events import DeskEvents
from handoff.extension import HandoffExtension
from handoff.goodwill import Goodwill
from handoff.lexicon import load_lexicon
from handoff.login_throttle import LoginThrottle, PasswordGate
from handoff.monitor import Monitor
from handoff.queue import WaitPolicy
from handoff.routing import Routing
from handoff.search import api as search_api
from handoff.search import build_search
from handoff.sentiment_model import get_model
from handoff.stats import Stats
from handoff.views import DeskViews
from handoff.workforce import api as workforce_api
from handoff.workforce.calendar import load_calendar
from handoff.workforce.service import Workforce
from handoff.workforce.shifts import load_shifts
from knowledge_base import KnowledgeBase


def build_handoff(
    *, settings: Settings, db: Database, kb: KnowledgeBase, notifier: Notifier,
    limits: LimitStore | None = None, billing: Billing | None = None,
) -> HandoffExtension:
    """``limits``: the shared rate-limit store of the composition root (one is built from the
    settings when none is given); ``billing``: for a verified subscriber's live figures on the
    agent's card (none: no figures)."""
    load_lexicon()  # fail at start-up, not at the first message, if the word lists are broken
    get_model()  # the sentiment classifier is trained now (about a second), not in a request
    events = DeskEvents(notifier.desk)  # shared by every process through the notifier
    wait_policy = WaitPolicy(
        concurrency=settings.handoff_agent_concurrency,
        default_handle_minutes=settings.handoff_default_handle_minutes,
    )
    audit = AuditTrail(db)
    routing = Routing(fallback_seconds=settings.routing_fallback_seconds)  # reads skills.yml
    goodwill = Goodwill(db, kb=kb, billing=billing, wait_seconds=settings.goodwill_wait_seconds,
                        timezone=settings.desk_timezone, notifier=notifier)  # reads goodwill.yml
    return HandoffExtension(
        settings=settings,
        hooks=DeskHooks(
            kb=kb, events=events, wait_policy=wait_policy,
            max_open_per_address=settings.webchat_max_open_handoffs_per_ip,
            routing=routing, goodwill=goodwill,
        ),
        accounts=Accounts(db, session_ttl=timedelta(hours=settings.desk_session_hours),
                          gate=PasswordGate(settings.desk_login_max_concurrent), audit=audit),
        limiter=LoginThrottle(
            store=limits if limits is not None else build_limit_store(settings, db),
            max_failures=settings.desk_login_max_failures,
            window_seconds=settings.desk_login_window_seconds,
        ),
        desk=Desk(db=db, kb=kb, notifier=notifier, events=events, audit=audit,
                  goodwill=goodwill),
        views=DeskViews(db, kb=kb, audit=audit, routing=routing),
        stats=Stats(db, target_seconds=settings.handoff_target_seconds,
                    timezone=settings.desk_timezone),
        events=events,
        notifier=notifier,
        audit=audit,
        audit_views=AuditViews(db, silence_alert_seconds=settings.silence_alert_seconds),
        monitor=Monitor(db, kb=kb, silence_alert_seconds=settings.silence_alert_seconds,
                        target_seconds=settings.handoff_target_seconds,
                        bot_idle_minutes=settings.monitor_bot_idle_minutes),
        search=build_search(db),
        analytics=Analytics(db, target_seconds=settings.handoff_target_seconds,
                            timezone=settings.desk_timezone),
        routing=routing,
        assist=Assist(db, kb=kb, billing=billing),
        goodwill=goodwill,
        # the shifts and the calendar are read now: a broken file stops the start-up
        workforce=Workforce(db, settings=settings, calendar=load_calendar(),
                            shifts=load_shifts()),
        router_list=[api.router, monitor_api.router, search_api.router, audit_api.router,
                     analytics_api.router, routing_api.router, assist_api.router,
                     workforce_api.router, page.router],
    )
