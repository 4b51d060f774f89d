"""The real vk-api client, aimed at ``VK_API_BASE``, with timeouts, called without blocking.

vk-api is synchronous (requests) and has three habits a server cannot keep:

- the method URL is fixed (``https://api.vk.ru/method/...``): :class:`VkApiSession` rewrites
  it to ``VK_API_BASE``, so a self-hosted proxy or a test server on 127.0.0.1 can stand in;
- requests get no timeout, so one hung call would hang its caller forever: the session adds one
  (a send that timed out may still have been delivered; it is retried with the same
  ``random_id``, which VK deduplicates);
- error 6 (too many requests) is retried inside the library every 0.5 s without end, and every
  call of one ``VkApi`` waits for the one before it (a lock around the HTTP request, at most
  three calls a second). Here error 6 surfaces like any other error (the outbox pauses and
  retries), each worker thread has its own ``VkApi`` (the outbox limits the community's rate),
  and calls run in a small thread pool of their own.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import vk_api

from channels.vk.options import VK_DEFAULT_BASE

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
THREADS = 4


class VkApiSession(requests.Session):
    """A requests session that sends vk-api's calls to ``api_base`` with a timeout."""

    def __init__(self, api_base: str = VK_DEFAULT_BASE,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        super().__init__()
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        if url.startswith(VK_DEFAULT_BASE + "/"):
            url = self.api_base + url[len(VK_DEFAULT_BASE):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class _VkApi(vk_api.VkApi):  # type: ignore[misc]
    RPS_DELAY = 0.0  # the outbox keeps the community's rate, not a lock around each call

    def too_many_rps_handler(self, error: vk_api.ApiError) -> None:
        return None  # raise error 6 like the others: the caller decides when to try again


class VkClient:
    """``await client.call("messages.send", peer_id=..., ...)``: VK's answer (``response``)
    or vk-api's errors: ``vk_api.ApiError`` (``.code``, VK's ``error_msg``),
    ``vk_api.ApiHttpError`` (a non-2xx answer) or a ``requests`` exception."""

    def __init__(self, *, token: str, api_version: str, api_base: str = VK_DEFAULT_BASE,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
                 threads: int = THREADS) -> None:
        self._token = token
        self._api_version = api_version
        self._api_base = api_base
        self._timeout = timeout
        self._local = threading.local()
        self._sessions: list[VkApiSession] = []
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vk-api")

    @property
    def token(self) -> str:
        return self._token

    async def call(self, method: str, **params: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._call, method, params)
        )

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        return self._api().method(method, params)

    def _api(self) -> vk_api.VkApi:
        api: vk_api.VkApi | None = getattr(self._local, "api", None)
        if api is None:
            session = VkApiSession(self._api_base, self._timeout)
            self._sessions.append(session)
            api = _VkApi(token=self._token, api_version=self._api_version, session=session)
            self._local.api = api
        return api

    def close(self) -> None:
        """Stop taking calls. Calls already queued still run (a reply the outbox is sending
        while the app stops goes out), each within its timeout."""
        self._executor.shutdown(wait=False)
        for session in self._sessions:
            session.close()
