"""Human handoff: escalation with a context card, the agent queue and desk, ratings, stats.

``build_handoff`` is what the composition root (``bot/services.py``) calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from bot.config import Settings
from bot.extensions import BackgroundLoop
from bot.handoff_hooks import BasicHandoff, HandoffHooks
from bot.notify import Notifier
from bot.storage import Database
from knowledge_base import KnowledgeBase

__all__ = ["HandoffModule", "build_handoff"]


@dataclass
class HandoffModule:
    hooks: HandoffHooks

    def routers(self) -> list[APIRouter]:
        return []

    def background(self) -> list[BackgroundLoop]:
        return []


def build_handoff(
    *, settings: Settings, db: Database, kb: KnowledgeBase, notifier: Notifier
) -> HandoffModule:
    return HandoffModule(hooks=BasicHandoff(kb))
