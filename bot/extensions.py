"""How parts plug into the app: routes, background loops, and (for channels) a sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from fastapi import APIRouter

from bot.channel import Channel

BackgroundLoop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class Extension(Protocol):
    """A part that adds routes and/or background loops (each loop runs until the event is set)."""

    def routers(self) -> list[APIRouter]: ...

    def background(self) -> list[BackgroundLoop]: ...


class ChannelExtension(Extension, Protocol):
    """A channel as the app sees it: something to send through, plus its routes and loops."""

    @property
    def channel(self) -> Channel: ...
