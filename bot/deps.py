"""FastAPI dependencies: the app's collaborators, reached by name in route signatures.

The composition root (``bot/app.py``) puts them on ``app.state``; nothing here imports it.
They are ``async def`` although they only read an attribute: FastAPI runs a plain ``def``
dependency in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from bot.config import Settings
from bot.conversations import Conversations
from bot.notify import Notifier
from bot.storage import Database
from nlu import NluClient


async def get_conversations(request: Request) -> Conversations:
    return cast(Conversations, request.app.state.conversations)


async def get_notifier(request: Request) -> Notifier:
    return cast(Notifier, request.app.state.notifier)


async def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.db)


async def get_nlu(request: Request) -> NluClient:
    return cast(NluClient, request.app.state.nlu)


ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
NotifierDep = Annotated[Notifier, Depends(get_notifier)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
NluDep = Annotated[NluClient, Depends(get_nlu)]
