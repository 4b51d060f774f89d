"""A fake SMS gateway: real HTTP on 127.0.0.1, the contract's shape, and knobs.

It serves the contract of ``SMS_GATEWAY_URL`` (backoffice/sms_http.py): ``POST {url}`` with
exactly ``{"to": "+375291234567", "text": "..."}`` as JSON and, when the fake has a token,
``Authorization: Bearer <token>``. Answers, as a strict gateway would:

- 200 ``{"id": "sms-1", "status": "queued"}`` for a good request (it is then in ``messages``);
- 401 without the right bearer token, 404 on another path, 405 for another method, 415 for a
  body that is not ``application/json``, 400 for a body that is not exactly ``to`` + ``text``
  (strings; ``to`` in E.164 with "+"; nothing else).

Knobs, safe to turn while it runs: ``fail_next(status, times=..., after=..., body=...)``
(500, 400, a non-JSON 502...), ``slow(seconds, times=...)`` (answer late), ``drop_next(times)``
(close the connection without an answer), ``reset()``. Observations: ``requests`` (every
request as it arrived, with the status it was given), ``messages(to)`` (accepted ones only),
and ``wait_for(condition)`` to poll with a deadline.

aiohttp runs in a daemon thread with its own event loop, so the test's loop never waits on it::

    with FakeSmsGateway() as gateway:
        sms = HttpSmsGateway(http, gateway.url, gateway.token)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.support.server_thread import ServerThread

__all__ = ["DROPPED", "TOKEN", "FakeSmsGateway", "ReceivedSms", "SmsRequest"]

TOKEN = "sms-gateway-token-for-tests-0123456789"
DROPPED = 0
"""The status recorded for a request whose connection was closed without an answer."""
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class SmsRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    payload: Any  # the body read as JSON, None when it is not JSON
    status: int  # what the fake answered; DROPPED when it closed the connection
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class ReceivedSms:
    to: str
    text: str
    at: float


@dataclass
class _Fault:
    status: int
    remaining: int
    body: str | None
    after: int


@dataclass(eq=False)
class FakeSmsGateway:
    token: str | None = TOKEN
    path: str = "/api/sms"
    base_url: str = ""
    _requests: list[SmsRequest] = field(default_factory=list, repr=False)
    _messages: list[ReceivedSms] = field(default_factory=list, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _drops: int = 0
    _delay: float = 0.0
    _delay_times: int | None = None  # None: every request
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ServerThread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The endpoint: what ``SMS_GATEWAY_URL`` is set to."""
        return f"{self.base_url}{self.path}"

    # -- knobs ---------------------------------------------------------------------------------

    def fail_next(self, status: int, *, times: int = 1, after: int = 0,
                  body: str | None = None) -> None:
        """Answer ``times`` requests with ``status`` after letting ``after`` through (``body``:
        a raw, non-JSON answer such as a proxy's HTML page)."""
        with self._lock:
            self._faults.append(_Fault(status, times, body, after))

    def slow(self, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before answering (the next ``times`` requests; None: all; 0 stops)."""
        with self._lock:
            self._delay, self._delay_times = seconds, times

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next ``times`` requests without answering."""
        with self._lock:
            self._drops += times

    def reset(self) -> None:
        """A well-behaved gateway again, with an empty log."""
        with self._lock:
            self._requests.clear()
            self._messages.clear()
            self._faults.clear()
            self._drops = 0
            self._delay, self._delay_times = 0.0, None

    # -- observations --------------------------------------------------------------------------

    @property
    def requests(self) -> list[SmsRequest]:
        with self._lock:
            return list(self._requests)

    def messages(self, to: str | None = None) -> list[ReceivedSms]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    async def wait_for(self, condition: Callable[[], Any], *, timeout: float = 10.0,
                       what: str = "condition") -> Any:
        """Poll ``condition`` (plain or async) until it is truthy, and return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.02)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ServerThread(self._routes, name="fake-sms-gateway", shutdown_timeout=1.0)
        self.base_url = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None and not self._server.stop():
            raise RuntimeError("the fake SMS gateway did not stop")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    # -- the gateway ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        status, answer, delay, drop = self._decide(request, payload)

        def record(status: int) -> None:
            with self._lock:
                self._requests.append(SmsRequest(
                    request.method, request.path, {k.lower(): v for k, v in request.headers.items()},
                    body, payload, status, arrived))

        if drop:
            record(DROPPED)
            assert request.transport is not None
            request.transport.abort()  # no status line, no headers: the connection just ends
            raise asyncio.CancelledError
        record(status)
        if delay:
            stopping = self._server.stopping if self._server is not None else None
            assert stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
        if status == 200 and isinstance(payload, dict):
            with self._lock:
                self._messages.append(ReceivedSms(payload["to"], payload["text"], arrived))
        if isinstance(answer, str):
            return web.Response(status=status, text=answer, content_type="text/html")
        return web.json_response(answer, status=status)

    def _decide(self, request: web.Request, payload: Any
                ) -> tuple[int, dict[str, Any] | str, float, bool]:
        """(status, answer, delay, drop) for this request; takes one fault, drop or delay."""
        with self._lock:
            delay = 0.0
            if self._delay and (self._delay_times is None or self._delay_times > 0):
                delay = self._delay
                if self._delay_times is not None:
                    self._delay_times -= 1
            if self._drops > 0:
                self._drops -= 1
                return 0, {}, 0.0, True
            fault = self._take_fault()
            if fault is not None:
                answer = fault.body if fault.body is not None else {"error": "injected failure"}
                return fault.status, answer, delay, False
            problem = self._problem(request, payload)
            if problem is not None:
                return problem[0], {"error": problem[1]}, delay, False
            identifier = f"sms-{self._next_id}"
            self._next_id += 1
            return 200, {"id": identifier, "status": "queued"}, delay, False

    def _take_fault(self) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.remaining -= 1
                return fault
        return None

    def _problem(self, request: web.Request, payload: Any) -> tuple[int, str] | None:
        if request.path != self.path:
            return 404, "no such endpoint"
        if request.method != "POST":
            return 405, "POST only"
        if self.token is not None and request.headers.get("Authorization") != (
                f"Bearer {self.token}"):
            return 401, "missing or wrong bearer token"
        if request.content_type != "application/json":
            return 415, "send application/json"
        if not isinstance(payload, dict) or set(payload) != {"to", "text"}:
            return 400, "the body must be exactly {\"to\", \"text\"}"
        to, text = payload["to"], payload["text"]
        if not isinstance(to, str) or _E164.fullmatch(to) is None:
            return 400, "'to' must be E.164 with '+'"
        if not isinstance(text, str) or not text:
            return 400, "'text' must be a non-empty string"
        return None
