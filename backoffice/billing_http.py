"""The operator's billing over HTTP: the contract in docs/billing-openapi.yaml, as a client.

``HttpBilling`` implements :class:`bot.backoffice_contract.Billing` against four routes under
``BILLING_URL`` (msisdn = E.164 digits without "+")::

    GET  /subscribers/{msisdn}           200 {"msisdn", "balance": {"amount", "currency"},
                                              "tariff": {"name"}, "roaming": {"enabled"},
                                              "status"}  | 404 -> None
    PUT  /subscribers/{msisdn}/roaming   {"enabled"} -> 200 {"enabled"}
    POST /subscribers/{msisdn}/bonuses   {"kind", "amount", "reason", "idempotency_key"}
                                         -> 201 granted now | 200 the same key, granted before
                                          | 409 naming the same key: granted before
    GET  /subscribers/{msisdn}/bonuses   200 {"items": [{"kind", "amount", "reason",
                                              "idempotency_key", "used", "granted_at"}]}

How a call behaves, like the NLU client (nlu/client.py):

- ``timeout`` is the budget of one call in all: every attempt, retry and back-off fit in it, so a
  hanging billing costs a subscriber at most that long;
- connection errors, timeouts, 5xx and 429 are retried (``retries`` times, exponential back-off
  with jitter, a numeric ``Retry-After`` honoured when it fits): all four calls may be repeated
  safely (the reads and the roaming PUT are idempotent, a grant is idempotent by its key);
- a circuit breaker, when given, turns a billing that keeps failing into an immediate
  :class:`BackofficeError` without touching the network;
- any other answer that is not the expected one (401/403, 400/422, an unexpected 404, a body
  that is not JSON, lacks a field or has one of the wrong type, an account for another number)
  is a :class:`BackofficeError` at once.

Personal data stays out of every message and log line: the msisdn is masked in URLs
(``/subscribers/***``), the token is only ever a header, and no figure or body is quoted. A
filter on the ``httpx`` logger masks the msisdn in its request log ("HTTP Request: GET
.../subscribers/***"). Amounts are read as :class:`~decimal.Decimal` (JSON strings, or JSON
numbers read exactly, never through a float).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from bot.backoffice_contract import BackofficeError, Bonus, Money, SubscriberAccount
from nlu.breaker import CircuitBreaker

__all__ = ["HttpBilling", "check_bonus_request", "check_msisdn", "mask_msisdns"]

log = logging.getLogger(__name__)

_MSISDN = re.compile(r"[1-9][0-9]{6,14}")
_SUBSCRIBER_PATH = re.compile(r"(/subscribers/)[0-9]{7,}")
_LONG_DIGITS = re.compile(r"[0-9]{7,}")
_USERINFO = re.compile(r"(//)[^/@\s]+@")
_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_KEY = 200
_MAX_REASON = 500
_RETRYABLE = frozenset({429})

T = TypeVar("T")


# -- validation shared with the demo billing --------------------------------------------------

def check_msisdn(msisdn: str) -> str:
    """``msisdn`` if it is E.164 digits without "+" (7-15 digits, no leading 0), else
    ValueError (whose message does not repeat the number)."""
    if not isinstance(msisdn, str) or _MSISDN.fullmatch(msisdn) is None:
        raise ValueError("msisdn must be 7-15 digits, E.164 without '+', no leading 0")
    return msisdn


def check_bonus_request(kind: str, amount: int, reason: str, idempotency_key: str) -> None:
    """ValueError unless the grant is well formed: ``kind`` like ``traffic_mb``, a positive
    integer ``amount``, a non-empty ``reason`` and ``idempotency_key`` (no control characters,
    at most 500 and 200 characters)."""
    if not isinstance(kind, str) or _KIND.fullmatch(kind) is None:
        raise ValueError("kind must be a lower-case identifier such as 'traffic_mb'")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount must be a positive integer")
    _check_text("reason", reason, _MAX_REASON)
    _check_text("idempotency_key", idempotency_key, _MAX_KEY)


def _check_text(name: str, value: str, longest: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > longest or any(ord(char) < 32 for char in value):
        raise ValueError(f"{name} must be at most {longest} characters, none of them control")


def mask_msisdns(text: str) -> str:
    """``text`` with every ``/subscribers/<7+ digits>`` shown as ``/subscribers/***`` (and
    credentials in a URL, ``//user:password@``, as ``//***@``)."""
    return _USERINFO.sub(r"\1***@", _SUBSCRIBER_PATH.sub(r"\1***", text))


# -- log redaction -----------------------------------------------------------------------------

class _MaskMsisdn(logging.Filter):
    """Masks the msisdn in request URLs (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/subscribers/" in message:
            masked = mask_msisdns(message)
            if masked != message:
                record.msg = masked
                record.args = ()
        return True


_MASK = _MaskMsisdn()


def _install_masking() -> None:
    for name in ("httpx", __name__):
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)


# -- the client --------------------------------------------------------------------------------

class _Malformed(Exception):
    """The answer does not have the contract's shape; the message names the field only."""


class HttpBilling:
    """The Billing protocol over HTTP. Share one per process; safe for concurrent use."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 3.0,
        retries: int = 2,
        breaker: CircuitBreaker | None = None,
        backoff: float = 0.2,
    ) -> None:
        """``timeout``: seconds one call may take in all, retries and back-off included;
        ``retries``: further attempts after a network error, timeout, 5xx or 429;
        ``backoff``: the first retry's delay in seconds (doubling, with jitter)."""
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the billing URL must start with http:// or https://")
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._token = token or None
        self.timeout = timeout
        self.retries = max(0, retries)
        self.breaker = breaker
        self.backoff = max(0.0, backoff)
        self.http_requests = 0
        """HTTP requests sent (each retry counts)."""
        self._shown_base = _without_userinfo(self.base_url)
        self._random = random.Random()
        _install_masking()

    def __repr__(self) -> str:
        token = "'***'" if self._token else "None"
        return f"HttpBilling({self._shown_base!r}, token={token})"

    # -- the Billing protocol ----------------------------------------------------------------

    async def subscriber(self, msisdn: str) -> SubscriberAccount | None:
        """The account, or None when the billing answers 404 (not the operator's number)."""
        check_msisdn(msisdn)
        response = await self._call("GET", msisdn, "")
        if response.status_code == 404:
            return None
        self._expect(response, "GET", "", {200})
        payload = self._json(response, "GET", "")
        return self._read(lambda: _account(payload, msisdn), "GET", "")

    async def set_roaming(self, msisdn: str, enabled: bool) -> bool:
        """Turn roaming on or off; the state the billing reports afterwards."""
        check_msisdn(msisdn)
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        response = await self._call("PUT", msisdn, "/roaming", {"enabled": enabled})
        self._expect(response, "PUT", "/roaming", {200})
        payload = self._json(response, "PUT", "/roaming")
        return self._read(lambda: _flag(_field(payload, "enabled", "")), "PUT", "/roaming")

    async def grant_bonus(
        self, msisdn: str, *, kind: str, amount: int, reason: str, idempotency_key: str
    ) -> None:
        """Grant once per key: 201 (granted now), 200 (the same key was granted before) and a
        409 whose body names the same ``idempotency_key`` all mean the bonus is there."""
        check_msisdn(msisdn)
        check_bonus_request(kind, amount, reason, idempotency_key)
        body = {"kind": kind, "amount": amount, "reason": reason,
                "idempotency_key": idempotency_key}
        response = await self._call("POST", msisdn, "/bonuses", body)
        if response.status_code == 409 and self._same_key(response, idempotency_key):
            log.info("billing POST %s: the bonus was granted before (409 with the same key)",
                     self._where("/bonuses"))
            return
        self._expect(response, "POST", "/bonuses", {200, 201})

    async def bonuses(self, msisdn: str) -> list[Bonus]:
        """The subscriber's bonuses, used or not, as the billing lists them."""
        check_msisdn(msisdn)
        response = await self._call("GET", msisdn, "/bonuses")
        self._expect(response, "GET", "/bonuses", {200})
        payload = self._json(response, "GET", "/bonuses")
        return self._read(lambda: _bonus_list(payload), "GET", "/bonuses")

    # -- HTTP ----------------------------------------------------------------------------------

    def _where(self, suffix: str) -> str:
        return f"{self._shown_base}/subscribers/***{suffix}"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = float(self.backoff * (2**attempt) * self._random.uniform(0.5, 1.5))
        if response is not None:
            try:
                delay = max(delay, float(response.headers.get("Retry-After", "")))
            except ValueError:
                pass
        return delay

    async def _call(
        self, method: str, msisdn: str, suffix: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One logical call: retried on network errors, timeouts, 5xx and 429, guarded by the
        breaker, over within ``timeout`` seconds. Returns the first other answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        url = f"{self.base_url}/subscribers/{msisdn}{suffix}"
        where = f"billing {method} {self._where(suffix)}"
        attempts = self.retries + 1
        problem = "no attempt made"
        made = 0
        for attempt in range(attempts):
            left = deadline - loop.time()
            if left <= 0:  # checked first: a half-open breaker's probe is not wasted
                problem = f"out of time ({self.timeout:.3g} s)"
                break
            if self.breaker is not None and not self.breaker.allow():
                raise BackofficeError(
                    f"{where}: the billing failed repeatedly; not trying again for "
                    f"{self.breaker.retry_in():.0f} s (circuit open)"
                )
            made += 1
            self.http_requests += 1
            response: httpx.Response | None = None
            try:
                # httpx's timeout is per phase (connect, read...); the outer one bounds the sum.
                async with asyncio.timeout(left):
                    response = await self._http.request(
                        method, url, json=body, headers=self._headers(), timeout=left
                    )
            except (httpx.TimeoutException, TimeoutError):
                problem = f"timed out after {self.timeout:.3g} s"
            except httpx.InvalidURL:
                raise BackofficeError(f"{where}: the billing URL is not a valid URL") from None
            except httpx.HTTPError as exc:  # connection, protocol, decoding...
                problem = f"{type(exc).__name__}: {_safe_text(str(exc)) or 'connection failed'}"
            else:
                status = response.status_code
                if status < 500 and status not in _RETRYABLE:
                    if self.breaker is not None:
                        self.breaker.record_success()
                    return response
                problem = f"HTTP {status}"
            if self.breaker is not None:
                self.breaker.record_failure()
            if attempt + 1 < attempts:
                delay = self._delay(attempt, response)
                if loop.time() + delay >= deadline:
                    break  # no time left for another try
                log.info("%s failed (%s); retrying in %.2f s", where, problem, delay)
                await asyncio.sleep(delay)
        raise BackofficeError(f"{where} failed after {made} attempt(s) ({problem})")

    def _expect(
        self, response: httpx.Response, method: str, suffix: str, expected: set[int]
    ) -> None:
        status = response.status_code
        if status in expected:
            return
        where = f"billing {method} {self._where(suffix)}"
        if status in (401, 403):
            hint = "" if self._token else " (no token was given)"
            raise BackofficeError(
                f"{where} refused the credentials (HTTP {status}){hint}: check BILLING_TOKEN"
            )
        if status == 404:
            raise BackofficeError(f"{where}: the billing does not know this subscriber (HTTP 404)")
        raise BackofficeError(f"{where} answered HTTP {status}, not {_statuses(expected)}")

    def _json(self, response: httpx.Response, method: str, suffix: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError:
            raise BackofficeError(
                f"billing {method} {self._where(suffix)} answered HTTP {response.status_code} "
                f"with a body that is not JSON"
            ) from None

    def _read(self, read: Callable[[], T], method: str, suffix: str) -> T:
        try:
            return read()
        except _Malformed as exc:
            raise BackofficeError(
                f"billing {method} {self._where(suffix)} answered with a malformed body: {exc}"
            ) from None

    def _same_key(self, response: httpx.Response, idempotency_key: str) -> bool:
        try:
            payload = json.loads(response.content)
        except ValueError:
            return False
        return isinstance(payload, dict) and payload.get("idempotency_key") == idempotency_key


# -- reading answers (every message names a field, never a value) ------------------------------

def _field(payload: Any, name: str, within: str) -> Any:
    path = f"{within}.{name}" if within else name
    if not isinstance(payload, dict):
        raise _Malformed(f"{within or 'the body'} is not a JSON object")
    if name not in payload:
        raise _Malformed(f"{path} is missing")
    return payload[name]


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Malformed(f"{path} is not a non-empty string")
    return value


def _flag(value: Any, path: str = "enabled") -> bool:
    if not isinstance(value, bool):
        raise _Malformed(f"{path} is not true or false")
    return value


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, str) and _AMOUNT.fullmatch(value.strip()) is not None:
        return Decimal(value.strip())
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise _Malformed(f"{path} is not a decimal amount")


def _account(payload: Any, msisdn: str) -> SubscriberAccount:
    answered = _text(_field(payload, "msisdn", ""), "msisdn")
    if answered != msisdn:
        raise _Malformed("msisdn is another subscriber's number, not the one asked for")
    balance = _field(payload, "balance", "")
    amount = _decimal(_field(balance, "amount", "balance"), "balance.amount")
    currency = _text(_field(balance, "currency", "balance"), "balance.currency")
    if _CURRENCY.fullmatch(currency) is None:
        raise _Malformed("balance.currency is not an ISO 4217 code")
    tariff = _field(payload, "tariff", "")
    name: str | None = None
    if tariff is not None:
        raw_name = _field(tariff, "name", "tariff")
        name = None if raw_name is None else _text(raw_name, "tariff.name")
    roaming = _flag(_field(_field(payload, "roaming", ""), "enabled", "roaming"),
                    "roaming.enabled")
    status = _text(_field(payload, "status", ""), "status")
    return SubscriberAccount(msisdn=msisdn, balance=Money(amount, currency), tariff=name,
                             roaming_enabled=roaming, status=status)


def _bonus_list(payload: Any) -> list[Bonus]:
    items = _field(payload, "items", "")
    if not isinstance(items, list):
        raise _Malformed("items is not a list")
    return [_bonus(item, f"items[{index}]") for index, item in enumerate(items)]


def _bonus(item: Any, path: str) -> Bonus:
    amount = _field(item, "amount", path)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise _Malformed(f"{path}.amount is not an integer")
    granted_at = item.get("granted_at")
    return Bonus(
        kind=_text(_field(item, "kind", path), f"{path}.kind"),
        amount=amount,
        reason=_text(_field(item, "reason", path), f"{path}.reason"),
        idempotency_key=_text(_field(item, "idempotency_key", path), f"{path}.idempotency_key"),
        used=_flag(_field(item, "used", path), f"{path}.used"),
        granted_at=None if granted_at is None else _timestamp(granted_at, f"{path}.granted_at"),
    )


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise _Malformed(f"{path} is not an RFC 3339 date-time")


# -- helpers -----------------------------------------------------------------------------------

def _no_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _statuses(expected: set[int]) -> str:
    return " or ".join(str(status) for status in sorted(expected))


def _safe_text(text: str) -> str:
    """A transport error's text without msisdns (in paths or not)."""
    return _LONG_DIGITS.sub("***", mask_msisdns(text))[:200]


def _without_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(the billing URL)"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))

