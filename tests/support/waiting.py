"""Waiting for something that happens in the background (a reply, a sent row) without a fixed
sleep: poll until it is true, fail with a clear message after a generous timeout."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = ..., every: float = ...
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None], *, timeout: float = ..., every: float = ...
) -> T: ...


async def eventually(
    check: Callable[[], object], *, timeout: float = 10.0, every: float = 0.1
) -> object:
    """Poll ``check`` (plain or async) until it returns something truthy, and return that;
    fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        await asyncio.sleep(every)
