"""A fake operator billing: real HTTP on 127.0.0.1 speaking docs/billing-openapi.yaml, and knobs.

Operations (named by their OpenAPI ``operationId``)::

    getSubscriber  GET  /subscribers/{msisdn}          200 Subscriber | 404
    setRoaming     PUT  /subscribers/{msisdn}/roaming  {"enabled"} -> 200 {"enabled"}
    grantBonus     POST /subscribers/{msisdn}/bonuses  -> 201 new | ``replay_status`` (200 with
                                                       the bonus, or 409 naming the key) on a
                                                       repeated key | 422 key reused differently
    listBonuses    GET  /subscribers/{msisdn}/bonuses  200 {"items": [...]}

A malformed msisdn or body answers 400, an unknown number 404, a missing or wrong bearer token
401 (when the fake has a token). Every error body is ``{"error", "message"}``.

Subscribers are added per test with :meth:`FakeBilling.add_subscriber`; by default each gets a
random number and a random balance (sign and cents included), so a test can only pass by
reading what the billing said. Knobs, safe to turn while it runs: ``fail_next(op, status)``
(500, 503, 429 with ``retry_after``...), ``answer_next(op, body)`` (any status and raw body: not
JSON, a field missing...), ``drop_next(op)`` (the connection closes with no answer), ``drop_after_next(op)`` (the
operation is done, then the connection closes),
``slow(op, seconds)``, ``mark_used(msisdn, key)`` (the subscriber used a bonus). Observations: ``calls(op)`` (each with the Authorization header and the
body as received), ``account(msisdn)``.

It runs aiohttp in a daemon thread with its own event loop (as tests/channels/telegram/
fake_bot_api.py does), with no access log, so the numbers in its paths never reach a test's
captured logs::

    with FakeBilling(token="t0ken") as billing:
        sub = billing.add_subscriber()
        ...  # HttpBilling(http, billing.url, "t0ken").subscriber(sub.msisdn)
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web

from tests.support.server_thread import ServerThread

__all__ = [
    "FAKE_BILLING_TOKEN",
    "OPERATIONS",
    "BillingCall",
    "FakeBilling",
    "FakeSubscriber",
    "random_amount",
    "random_msisdn",
]

FAKE_BILLING_TOKEN = "bss-test-token-5f3a9c"
OPERATIONS = ("getSubscriber", "setRoaming", "grantBonus", "listBonuses")
DROPPED = -1
"""The ``status`` of a call whose connection was dropped."""

_MSISDN = re.compile(r"[1-9][0-9]{6,14}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_random = random.SystemRandom()


def random_msisdn() -> str:
    """A Belarusian-looking number no test can know in advance."""
    return "375" + _random.choice(("29", "33", "44", "25")) + f"{_random.randrange(10**7):07d}"


def random_amount() -> str:
    """A balance such as "-37.81" or "512.06": either sign, cents never "00", at least 4 digits
    in all (so it cannot hide inside a port number or a status code in a log line)."""
    sign = _random.choice(("", "-"))
    return f"{sign}{_random.randint(10, 999)}.{_random.randint(1, 99):02d}"


@dataclass
class FakeSubscriber:
    msisdn: str
    amount: str
    currency: str = "BYN"
    tariff: str | None = "Test Smart"
    roaming: bool = False
    status: str = "active"
    bonuses: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "msisdn": self.msisdn,
            "balance": {"amount": self.amount, "currency": self.currency},
            "tariff": {"name": self.tariff} if self.tariff is not None else None,
            "roaming": {"enabled": self.roaming},
            "status": self.status,
        }


@dataclass(frozen=True)
class BillingCall:
    operation: str
    msisdn: str
    authorization: str | None
    body: Any  # parsed JSON, the raw text when it was not JSON, None when empty
    status: int  # DROPPED when the connection was closed instead
    at: float  # time.monotonic() on arrival


@dataclass
class _Fault:
    operation: str
    status: int
    body: str | None
    remaining: int
    retry_after: int | None = None
    drop: bool = False
    after: bool = False  # the operation is done before the connection is dropped


@dataclass(eq=False)
class FakeBilling:
    token: str | None = FAKE_BILLING_TOKEN
    url: str = ""
    replay_status: int = 200
    """How a repeated idempotency key is answered: 200 with the bonus, or 409 naming the key."""
    _subscribers: dict[str, FakeSubscriber] = field(default_factory=dict, repr=False)
    _calls: list[BillingCall] = field(default_factory=list, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _delays: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ServerThread | None = field(default=None, repr=False)

    # -- knobs ---------------------------------------------------------------------------------

    def add_subscriber(
        self,
        msisdn: str | None = None,
        *,
        amount: str | None = None,
        currency: str = "BYN",
        tariff: str | None = "Test Smart",
        roaming: bool = False,
        status: str = "active",
    ) -> FakeSubscriber:
        """A subscriber the billing knows; a random number and balance unless given."""
        with self._lock:
            while msisdn is None or msisdn in self._subscribers:
                msisdn = random_msisdn()
            subscriber = FakeSubscriber(msisdn, amount or random_amount(), currency, tariff,
                                        roaming, status)
            self._subscribers[msisdn] = subscriber
        return subscriber

    def fail_next(
        self,
        operation: str,
        status: int,
        *,
        times: int = 1,
        body: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with ``status`` (and the raw
        ``body``, else an Error object)."""
        self._add_fault(_Fault(operation, status, body, times, retry_after))

    def answer_next(
        self, operation: str, body: Any, *, status: int = 200, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls with ``body``: a str is sent as it is (not JSON,
        truncated JSON...), anything else as JSON."""
        raw = body if isinstance(body, str) else json.dumps(body)
        self._add_fault(_Fault(operation, status, raw, times))

    def drop_next(self, operation: str, *, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls without answering."""
        self._add_fault(_Fault(operation, 0, None, times, drop=True))

    def drop_after_next(self, operation: str, *, times: int = 1) -> None:
        """Do the next ``times`` calls of ``operation`` (a grant is granted), then close the
        connection instead of answering: the caller cannot know it worked."""
        self._add_fault(_Fault(operation, 0, None, times, drop=True, after=True))

    def slow(self, operation: str, seconds: float) -> None:
        """Wait ``seconds`` before answering ``operation`` (0 to stop)."""
        _check_operation(operation)
        with self._lock:
            self._delays[operation] = seconds

    def mark_used(self, msisdn: str, idempotency_key: str) -> None:
        """The subscriber used the bonus granted with ``idempotency_key``."""
        with self._lock:
            for bonus in self._subscribers[msisdn].bonuses:
                if bonus["idempotency_key"] == idempotency_key:
                    bonus["used"] = True
                    return
        raise KeyError("no bonus with that key")

    def reset(self) -> None:
        """No subscribers, faults, delays or log; 200 for a repeated key."""
        with self._lock:
            self._subscribers.clear()
            self._calls.clear()
            self._faults.clear()
            self._delays.clear()
            self.replay_status = 200

    def _add_fault(self, fault: _Fault) -> None:
        _check_operation(fault.operation)
        with self._lock:
            self._faults.append(fault)

    # -- observations --------------------------------------------------------------------------

    def calls(self, operation: str | None = None) -> list[BillingCall]:
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def account(self, msisdn: str) -> FakeSubscriber | None:
        with self._lock:
            return self._subscribers.get(msisdn)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ServerThread(self._routes, name="fake-billing")
        self.url = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/subscribers/{msisdn}", self._route("getSubscriber"))
        app.router.add_put("/subscribers/{msisdn}/roaming", self._route("setRoaming"))
        app.router.add_post("/subscribers/{msisdn}/bonuses", self._route("grantBonus"))
        app.router.add_get("/subscribers/{msisdn}/bonuses", self._route("listBonuses"))

    # -- the API -------------------------------------------------------------------------------

    def _route(self, operation: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(operation, request)

        return handle

    async def _handle(self, operation: str, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        msisdn = request.match_info["msisdn"]
        raw = await request.text()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        authorization = request.headers.get("Authorization")

        def record(status: int) -> None:
            with self._lock:
                self._calls.append(BillingCall(operation, msisdn, authorization, body, status,
                                               arrived))

        fault = self._take_fault(operation)  # on arrival, so a slow call cannot steal it
        delay = self._delays.get(operation, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            if fault.drop and fault.after:
                status, _ = self._answer(operation, msisdn, authorization, body)
                record(DROPPED)
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=status)  # never sent: the connection is gone
            if fault.drop:
                record(DROPPED)
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # never sent: the connection is gone
            record(fault.status)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
            if fault.body is not None:
                return web.Response(status=fault.status, text=fault.body, headers=headers,
                                    content_type="application/json")
            return web.json_response(_error("injected", "injected failure"),
                                     status=fault.status, headers=headers)
        status, payload = self._answer(operation, msisdn, authorization, body)
        record(status)
        return web.json_response(payload, status=status)

    def _answer(
        self, operation: str, msisdn: str, authorization: str | None, body: Any
    ) -> tuple[int, Any]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, _error("unauthorized", "a valid bearer token is required")
        if _MSISDN.fullmatch(msisdn) is None:
            return 400, _error("bad_request", "msisdn must be 7-15 digits")
        with self._lock:
            subscriber = self._subscribers.get(msisdn)
            if subscriber is None:
                return 404, _error("not_found", "not a subscriber of this operator")
            if operation == "getSubscriber":
                return 200, subscriber.as_json()
            if operation == "setRoaming":
                if not isinstance(body, dict) or set(body) != {"enabled"} or not isinstance(
                    body["enabled"], bool
                ):
                    return 400, _error("bad_request", "expected {\"enabled\": true|false}")
                subscriber.roaming = body["enabled"]
                return 200, {"enabled": subscriber.roaming}
            if operation == "listBonuses":
                return 200, {"items": [dict(bonus) for bonus in subscriber.bonuses]}
            return self._grant(subscriber, body)

    def _grant(self, subscriber: FakeSubscriber, body: Any) -> tuple[int, Any]:
        problem = _grant_problem(body)
        if problem:
            return 400, _error("bad_request", problem)
        key = body["idempotency_key"]
        for bonus in subscriber.bonuses:
            if bonus["idempotency_key"] != key:
                continue
            if (bonus["kind"], bonus["amount"]) != (body["kind"], body["amount"]):
                return 422, _error("idempotency_key_reused", "the key was used for another grant")
            if self.replay_status == 409:
                return 409, {**_error("already_granted", "granted before"),
                             "idempotency_key": key}
            return 200, dict(bonus)
        bonus = {
            "kind": body["kind"],
            "amount": body["amount"],
            "reason": body["reason"],
            "idempotency_key": key,
            "used": False,
            "granted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        subscriber.bonuses.append(bonus)
        return 201, dict(bonus)

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.operation == operation:
                    fault.remaining -= 1
                    return fault
        return None


def _grant_problem(body: Any) -> str | None:
    expected = {"kind", "amount", "reason", "idempotency_key"}
    if not isinstance(body, dict) or set(body) != expected:
        return f"expected exactly the fields {sorted(expected)}"
    if not isinstance(body["kind"], str) or _KIND.fullmatch(body["kind"]) is None:
        return "kind must be an identifier"
    amount = body["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        return "amount must be a positive integer"
    for name in ("reason", "idempotency_key"):
        if not isinstance(body[name], str) or not body[name]:
            return f"{name} must be a non-empty string"
    return None


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def _check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; one of {OPERATIONS}")
