"""Human handoff: escalation with a context card, the agent queue and desk, ratings, stats.

``build_handoff`` is what the composition root (``bot/services.py``) calls; the returned
:class:`HandoffModule` has ``.hooks`` (the core's ``HandoffHooks``), ``.routers()`` (the desk
API and page) and ``.background()`` (start-up accounts, housekeeping).

Modules: ``models`` (tables), ``hooks`` (escalate / intercept), ``card`` (context card),
``queue`` + ``priority`` (order, position, wait estimate), ``desk`` (agent actions),
``views`` (queue and conversation as an agent sees them), ``stats`` (service level),
``auth`` + ``ratelimit`` (accounts, logins), ``sentiment`` + ``lexicon`` (negative messages),
``api`` + ``page`` + ``deps`` (HTTP), ``cli`` (``abonent agents``). Errors: ``errors``.
"""

from __future__ import annotations

from datetime import timedelta

from bot.config import Settings
from bot.notify import Notifier
from bot.storage import Database
from handoff import api, page
from handoff.auth import Accounts
from handoff.desk import Desk
from handoff.events import DeskEvents
from handoff.hooks import DeskHooks
from handoff.lexicon import load_lexicon
from handoff.module import HandoffModule
from handoff.queue import WaitPolicy
from handoff.ratelimit import LoginLimiter, PasswordGate
from handoff.stats import Stats
from handoff.views import DeskViews
from knowledge_base import KnowledgeBase

__all__ = ["HandoffModule", "build_handoff"]


def build_handoff(
    *, settings: Settings, db: Database, kb: KnowledgeBase, notifier: Notifier
) -> HandoffModule:
    load_lexicon()  # fail at start-up, not at the first message, if the word lists are broken
    events = DeskEvents()
    wait_policy = WaitPolicy(
        concurrency=settings.handoff_agent_concurrency,
        default_handle_minutes=settings.handoff_default_handle_minutes,
    )
    return HandoffModule(
        settings=settings,
        hooks=DeskHooks(
            kb=kb, events=events, wait_policy=wait_policy,
            max_open_per_address=settings.webchat_max_open_handoffs_per_ip,
        ),
        accounts=Accounts(db, session_ttl=timedelta(hours=settings.desk_session_hours),
                          gate=PasswordGate(settings.desk_login_max_concurrent)),
        limiter=LoginLimiter(
            max_failures=settings.desk_login_max_failures,
            window_seconds=settings.desk_login_window_seconds,
        ),
        desk=Desk(db=db, kb=kb, notifier=notifier, events=events),
        views=DeskViews(db),
        stats=Stats(db, target_seconds=settings.handoff_target_seconds,
                    timezone=settings.desk_timezone),
        events=events,
        notifier=notifier,
        router_list=[api.router, page.router],
    )
