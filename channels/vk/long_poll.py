"""Bots Long Poll that loses nothing: ``ts`` is persisted only after its events are stored.

VK has no acknowledgement: the long-poll server answers every ``ts`` it still remembers, and
only our own ``ts`` says how far we got. So each round stores the batch first and then writes
the next ``ts`` to the database (``channel_cursors``); a crash in between replays the batch from
the old ``ts`` after the restart, and the core's idempotent ``accept`` sees duplicates. When
storing fails, the same batch is offered again after a pause, before anything new is asked for.

VK's answers: ``failed: 1`` (the history is gone up to here) -> carry on from the ``ts`` it
gives; ``2`` (the key expired) -> a new key, same ``ts``; ``3`` (the key and the history are
gone) -> a new key and ``ts``. Network errors and VK errors back off with jitter, up to a minute.

The long-poll request itself is made with an async HTTP client (it is held open for ``wait``
seconds and must not block the event loop or a thread when the app stops); VK's methods go
through vk-api.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Mapping
from typing import Any

import httpx
import requests
import vk_api

from bot.cursors import Cursors
from channels.vk.client import VkClient
from channels.vk.errors import describe
from channels.vk.intake import StoreFailed, VkIntake

log = logging.getLogger(__name__)

WAIT = 25  # seconds VK holds an empty long poll open (at most 90)
MAX_PAUSE = 60.0
_KEY_IN_URL = re.compile(r"([?&]key=)[^&\s\"'>]+")


class _RedactKey(logging.Filter):
    """Masks the long-poll ``key=...`` (a credential) in httpx's request lines (INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "key=" in message:
            record.msg, record.args = _KEY_IN_URL.sub(r"\1***", message), ()
        return True


_REDACTOR = _RedactKey()


class LongPoller:
    def __init__(
        self,
        client: VkClient,
        intake: VkIntake,
        cursors: Cursors,
        *,
        group_id: int,
        wait: int = WAIT,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._intake = intake
        self._cursors = cursors
        self._group_id = group_id
        self._wait = wait
        self._secrets = secrets
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(wait + 10.0, connect=5.0))
        httpx_log = logging.getLogger("httpx")
        if _REDACTOR not in httpx_log.filters:
            httpx_log.addFilter(_REDACTOR)
        self._server: str | None = None
        self._key: str | None = None
        self.ts: str | None = None  # the next ts to ask for; persisted once the batch is stored
        self._pending: tuple[list[Mapping[str, Any]], str] | None = None  # unstored batch, next ts
        self._failures = 0
        self._fresh = False  # after failed 3: ignore the saved ts, take the server's
        self._new_key = False  # a key was just fetched after failed 2 and not yet used

    @property
    def cursor_name(self) -> str:
        return f"vk:long_poll:{self._group_id}"

    async def run(self, stop: asyncio.Event) -> None:
        """Polls until ``stop``; may run again later (a process that regains the polling
        leadership runs it anew), so the HTTP client is closed by :meth:`close`, not here."""
        log.info("vk: Bots Long Poll started for community %s", self._group_id)
        while not stop.is_set():
            pause = await self.poll_once()
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)

    async def close(self) -> None:
        await self._http.aclose()

    async def poll_once(self) -> float:
        """One round; returns how long to pause before the next (0: none)."""
        try:
            if self._pending is not None:
                return await self._store(*self._pending)
            if self._server is None:
                await self._connect()
            answer = await self._check()
        except httpx.HTTPError as exc:
            log.warning("vk: long poll failed: %s", self._scrub(f"{type(exc).__name__}: {exc}"))
            return self._failed()
        except (vk_api.VkApiError, requests.RequestException, ValueError, TypeError,
                KeyError) as exc:  # VK's errors and answers we cannot read
            log.warning("vk: long poll failed: %s", describe(exc, self._secrets_and_key()))
            return self._failed()
        except Exception:  # the loop must survive anything
            log.exception("vk: long poll failed unexpectedly")
            return self._failed()
        return await self._handle(answer)

    async def _connect(self) -> None:
        """A long-poll server and key; the ts from the database when we have one (resume)."""
        server = await self._client.call("groups.getLongPollServer", group_id=self._group_id)
        if not isinstance(server, Mapping) or not server.get("server") or not server.get("key"):
            raise ValueError("groups.getLongPollServer answered without a server or key")
        self._server, self._key = str(server["server"]), str(server["key"])
        if self.ts is None:
            saved = None if self._fresh else await self._cursors.get(self.cursor_name)
            self.ts = saved if saved is not None else str(server["ts"])
            if saved is None:  # a first start (or after failed 3): remember where we begin, so
                await self._cursors.put(self.cursor_name, self.ts)  # a restart loses nothing
            self._fresh = False
            log.info("vk: long poll %s", "resumes where it stopped" if saved else "starts now")

    async def _check(self) -> Mapping[str, Any]:
        assert self._server is not None
        response = await self._http.get(self._server, params={
            "act": "a_check", "key": self._key, "ts": self.ts, "wait": self._wait,
        })
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, Mapping):
            raise TypeError("the long-poll answer is not a JSON object")
        return answer

    async def _handle(self, answer: Mapping[str, Any]) -> float:
        failed = answer.get("failed")
        if failed is not None:
            return await self._recover(failed, answer)
        updates = answer.get("updates")
        next_ts = answer.get("ts")
        if not isinstance(updates, list) or next_ts is None:
            log.warning("vk: the long-poll answer has no updates or ts; asking again")
            return self._failed()
        events = [u for u in updates if isinstance(u, Mapping)]
        return await self._store(events, str(next_ts))

    async def _store(self, events: list[Mapping[str, Any]], next_ts: str) -> float:
        try:
            if events:
                await self._intake.store(events)
            if next_ts != self.ts:
                await self._cursors.put(self.cursor_name, next_ts)
        except Exception as exc:
            if not isinstance(exc, StoreFailed):  # StoreFailed was logged where it happened
                log.exception("vk: could not store the batch or save the long-poll position")
            self._pending = (events, next_ts)  # offered again after the pause
            return self._failed()
        self._pending = None
        self.ts = next_ts
        self._failures = 0
        self._new_key = False
        return 0.0

    async def _recover(self, failed: object, answer: Mapping[str, Any]) -> float:
        if failed == 1 and answer.get("ts") is not None:
            log.warning("vk: long-poll history was lost up to ts %s; going on from there",
                        answer["ts"])
            return await self._store([], str(answer["ts"]))
        if failed == 2:
            log.info("vk: the long-poll key expired; asking for a new one")
            self._server = None
            if self._new_key:  # a fresh key expired at once: do not spin
                return self._failed()
            self._new_key = True
            return 0.0
        if failed == 3:
            log.warning("vk: the long-poll key and history were lost; starting from now")
            self._server, self.ts, self._fresh = None, None, True
            return 0.0
        log.warning("vk: the long poll answered failed=%r; reconnecting", failed)
        self._server = None
        return self._failed()

    def _failed(self) -> float:
        self._failures += 1
        ceiling = min(MAX_PAUSE, 2.0 ** min(self._failures, 10))
        return random.uniform(ceiling / 2, ceiling)

    def _secrets_and_key(self) -> tuple[str, ...]:
        return (*self._secrets, self._key or "")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets_and_key():
            if secret:
                text = text.replace(secret, "***")
        return text[:500]
