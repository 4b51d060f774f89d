"""FastAPI dependencies: the app's services, reached by name in route signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.config import Settings
from bot.conversations import Conversations
from bot.notify import Notifier
from bot.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def get_conversations(request: Request) -> Conversations:
    return get_services(request).conversations


def get_notifier(request: Request) -> Notifier:
    return get_services(request).notifier


def get_settings_dep(request: Request) -> Settings:
    return get_services(request).settings


ServicesDep = Annotated[Services, Depends(get_services)]
ConversationsDep = Annotated[Conversations, Depends(get_conversations)]
NotifierDep = Annotated[Notifier, Depends(get_notifier)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
