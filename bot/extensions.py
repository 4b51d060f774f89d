"""How parts plug into the app: routes, background loops, and (for channels) a sender."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import APIRouter

from channels.base import Channel

BackgroundLoop = Callable[[asyncio.Event], Awaitable[None]]


class Extension(Protocol):
    """A part that adds routes and/or background loops (each loop runs until the event is set)."""

    def routers(self) -> list[APIRouter]: ...

    def background(self) -> list[BackgroundLoop]: ...


class ChannelPlugin(Extension, Protocol):
    """A channel as the app sees it: something to send through, plus its routes and loops."""

    channel: Channel
