"""A dedicated asyncpg connection outside SQLAlchemy's pool, for what must hold one connection for
as long as it runs: a ``LISTEN`` (bot/notify.py) and a session-level advisory lock (bot/leader.py).
A pooled connection would be recycled or pre-pinged away under them."""

from __future__ import annotations

from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine.url import make_url

from bot.storage import normalise_url

# options of SQLAlchemy's asyncpg adapter that asyncpg.connect itself does not take
_ADAPTER_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func",
                 "async_creator_fn")


def is_postgres(url: str) -> bool:
    return normalise_url(url).startswith("postgresql")


def connect_kwargs(url: str) -> dict[str, Any]:
    """asyncpg.connect's arguments for DATABASE_URL, translated the way the app's engine does
    (so ``?ssl=require`` and the like mean the same on both)."""
    parsed = make_url(normalise_url(url))
    _args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    for key in _ADAPTER_ONLY:
        kwargs.pop(key, None)
    return dict(kwargs)


async def connect(url: str, *, timeout: float = 10.0) -> Any:
    """A new connection (an ``asyncpg.Connection``); the caller closes it."""
    return await asyncpg.connect(timeout=timeout, **connect_kwargs(url))
