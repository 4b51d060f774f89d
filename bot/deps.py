"""FastAPI dependencies: the app's collaborators, reached by name in route signatures.

The composition root (``bot/app.py``) puts them on ``app.state``; nothing here imports it.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from bot.config import Settings
from bot.conversations import Conversations
from bot.notify import Notifier
from bot.storage import Database
from nlu import NluClient


def get_conversations(request: Request) -> Conversations:
    return cast(Conversations, request.app.state.conversations)


def get_notifier(request: Request) -> Notifier:
    return cast(Notifier, request.app.state.notifier)


def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.db)


def get_nlu(request: Request) -> NluClient:
    return cast(NluClient, request.app.state.nlu)


ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
NotifierDep = Annotated[Notifier, Depends(get_notifier)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
NluDep = Annotated[NluClient, Depends(get_nlu)]
