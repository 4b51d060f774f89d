"""Subscribers' names for the agent's card: ``users.get``, batched and cached.

A name is a nicety: when VK cannot be asked, the message is stored without one (never held up).
Names are personal data: they are not logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from channels.vk.client import VkClient
from channels.vk.errors import channel_error

log = logging.getLogger(__name__)

BATCH = 1000  # users.get takes up to 1000 ids
TTL_SECONDS = 24 * 3600.0
WAIT_SECONDS = 3.0  # storing a message (and answering VK's callback) never waits longer


class UserNames:
    def __init__(self, client: VkClient, *, size: int = 10_000, ttl: float = TTL_SECONDS,
                 wait: float = WAIT_SECONDS, secrets: tuple[str, ...] = ()) -> None:
        self._client = client
        self._wait = wait
        self._size = size
        self._ttl = ttl
        self._secrets = secrets
        self._names: OrderedDict[int, tuple[float, str | None]] = OrderedDict()

    def cached(self, user_id: int) -> str | None:
        found = self._names.get(user_id)
        return found[1] if found is not None and found[0] > time.monotonic() else None

    async def fetch(self, user_ids: Iterable[int]) -> None:
        """Ask VK for the names not cached (one call per 1000); failures are only logged."""
        now = time.monotonic()
        missing = sorted({u for u in user_ids if self._names.get(u, (0.0, None))[0] <= now})
        for start in range(0, len(missing), BATCH):
            batch = missing[start:start + BATCH]
            try:
                users = await asyncio.wait_for(self._client.call(
                    "users.get", user_ids=",".join(map(str, batch))
                ), self._wait)
            except TimeoutError:
                log.info("vk: users.get took longer than %.0f s; storing without names",
                         self._wait)
                return
            except Exception as exc:
                error = channel_error(exc, secrets=self._secrets)
                if error is None:
                    log.exception("vk: users.get failed")
                else:
                    log.info("vk: could not read subscribers' names: %s", error)
                return
            for user in users if isinstance(users, list) else ():
                user_id = user.get("id") if isinstance(user, dict) else None
                if isinstance(user_id, int) and not isinstance(user_id, bool):
                    self._remember(user_id, _full_name(user))

    def _remember(self, user_id: int, name: str | None) -> None:
        self._names[user_id] = (time.monotonic() + self._ttl, name)
        self._names.move_to_end(user_id)
        while len(self._names) > self._size:
            self._names.popitem(last=False)


def _full_name(user: dict[str, object]) -> str | None:
    name = " ".join(str(user.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name[:200] or None
