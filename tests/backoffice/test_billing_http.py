"""HttpBilling against a real HTTP server on loopback (tests/backoffice/fake_billing.py): the
contract's figures, roaming and bonuses, retries, the breaker, the time budget, malformed
answers, and that no number, token or figure reaches a log line or an error message."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backoffice.billing_http import HttpBilling, mask_msisdns
from bot.backoffice_contract import BackofficeError, Billing
from nlu.breaker import CircuitBreaker
from tests.backoffice.fake_billing import (
    DROPPED,
    FAKE_BILLING_TOKEN,
    FakeBilling,
    FakeSubscriber,
    random_amount,
    random_msisdn,
)
from tests.support.servers import free_port
from tests.support.silent_server import SilentServer

MakeBilling = Callable[..., HttpBilling]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def fake_billing_server() -> Iterator[FakeBilling]:
    with FakeBilling() as server:
        yield server


@pytest.fixture
def fake(fake_billing_server: FakeBilling) -> FakeBilling:
    """The fake billing, reset for this test (no subscribers, faults or calls)."""
    fake_billing_server.reset()
    return fake_billing_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_billing(fake: FakeBilling, http: httpx.AsyncClient) -> MakeBilling:
    def make(**kwargs: Any) -> HttpBilling:
        kwargs.setdefault("token", FAKE_BILLING_TOKEN)
        kwargs.setdefault("backoff", 0.001)
        base_url = kwargs.pop("base_url", fake.url)
        return HttpBilling(http, base_url, **kwargs)

    return make


def _known(fake: FakeBilling, msisdn: str) -> FakeSubscriber:
    account = fake.account(msisdn)
    assert account is not None
    return account


def _grant(billing: HttpBilling, msisdn: str, key: str = "goodwill-1", amount: int = 100,
           ) -> Awaitable[None]:
    return billing.grant_bonus(msisdn, kind="traffic_mb", amount=amount,
                               reason="apology for an outage", idempotency_key=key)


# -- the contract --------------------------------------------------------------------------

async def test_is_a_billing(make_billing: MakeBilling) -> None:
    billing: Billing = make_billing()
    assert isinstance(billing, HttpBilling)


async def test_the_figures_are_the_billings(fake: FakeBilling, make_billing: MakeBilling) -> None:
    first = fake.add_subscriber(tariff="Smart 15", roaming=True)
    second = fake.add_subscriber(tariff="Start", status="blocked", currency="EUR")
    billing = make_billing()

    for sub in (first, second):
        account = await billing.subscriber(sub.msisdn)
        assert account is not None
        assert account.msisdn == sub.msisdn
        assert account.balance.amount == Decimal(sub.amount)
        assert str(account.balance.amount) == sub.amount  # exact, never through a float
        assert account.balance.currency == sub.currency
        assert (account.tariff, account.roaming_enabled, account.status) == (
            sub.tariff, sub.roaming, sub.status)

    calls = fake.calls("getSubscriber")
    assert [c.msisdn for c in calls] == [first.msisdn, second.msisdn]
    assert all(c.authorization == f"Bearer {FAKE_BILLING_TOKEN}" for c in calls)


async def test_negative_balance_and_an_unnamed_tariff(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    owed = "-" + random_amount().lstrip("-")
    sub = fake.add_subscriber(amount=owed, tariff=None)
    account = await make_billing().subscriber(sub.msisdn)
    assert account is not None
    assert account.balance.amount == Decimal(owed) < 0
    assert account.tariff is None


async def test_an_amount_sent_as_a_json_number_is_read_exactly(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    billing = make_billing()
    raw = ('{"msisdn": "MSISDN", "balance": {"amount": 12.10, "currency": "BYN"}, '
           '"tariff": {"name": null}, "roaming": {"enabled": false}, "status": "active", '
           '"extra": 1}')
    fake.answer_next("getSubscriber", raw.replace("MSISDN", sub.msisdn))
    account = await billing.subscriber(sub.msisdn)
    assert account is not None
    assert str(account.balance.amount) == "12.10" and account.tariff is None
    fake.answer_next("getSubscriber", {**sub.as_json(), "balance": {"amount": 15,
                                                                     "currency": "BYN"}})
    account = await billing.subscriber(sub.msisdn)
    assert account is not None and account.balance.amount == Decimal(15)


async def test_an_unknown_number_is_none(fake: FakeBilling, make_billing: MakeBilling) -> None:
    fake.add_subscriber()
    stranger = random_msisdn()
    assert await make_billing().subscriber(stranger) is None
    assert [c.status for c in fake.calls()] == [404]  # asked once, not retried


@pytest.mark.parametrize(
    "msisdn",
    ["", "+375291234567", "375 29 123 45 67", "204060", "3752912345678901", "0291234567",
     "٣٧٥٢٩١٢٣٤٥٦٧", "375291234567/roaming", None, 375291234567],
)
async def test_a_malformed_msisdn_is_refused_before_any_request(
    fake: FakeBilling, make_billing: MakeBilling, msisdn: Any
) -> None:
    billing = make_billing()
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: billing.subscriber(msisdn),
        lambda: billing.set_roaming(msisdn, True),
        lambda: _grant(billing, msisdn),
        lambda: billing.bonuses(msisdn),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError, match="7-15 digits") as caught:
            await attempt()
        if msisdn:
            assert str(msisdn) not in str(caught.value)
    assert fake.calls() == []
    assert billing.http_requests == 0


async def test_roaming_is_turned_on_and_off(fake: FakeBilling, make_billing: MakeBilling) -> None:
    sub = fake.add_subscriber(roaming=False)
    billing = make_billing()
    assert await billing.set_roaming(sub.msisdn, True) is True
    assert _known(fake, sub.msisdn).roaming is True
    account = await billing.subscriber(sub.msisdn)
    assert account is not None and account.roaming_enabled
    assert await billing.set_roaming(sub.msisdn, False) is False
    assert _known(fake, sub.msisdn).roaming is False
    puts = fake.calls("setRoaming")
    assert [c.body for c in puts] == [{"enabled": True}, {"enabled": False}]
    assert all(c.authorization == f"Bearer {FAKE_BILLING_TOKEN}" for c in puts)


async def test_roaming_reports_what_the_billing_says(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber(roaming=False)
    fake.answer_next("setRoaming", {"enabled": False})  # the billing refused to change it
    assert await make_billing().set_roaming(sub.msisdn, True) is False
    with pytest.raises(TypeError):
        await make_billing().set_roaming(sub.msisdn, "yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("replay_status", [200, 409])
async def test_a_bonus_is_granted_once_per_key(
    fake: FakeBilling, make_billing: MakeBilling, replay_status: int
) -> None:
    fake.replay_status = replay_status
    sub = fake.add_subscriber()
    billing = make_billing()
    await _grant(billing, sub.msisdn, "key-a")
    await _grant(billing, sub.msisdn, "key-a")  # a repeat: no second bonus, no error
    await _grant(billing, sub.msisdn, "key-b", amount=250)

    assert [c.status for c in fake.calls("grantBonus")] == [201, replay_status, 201]
    assert fake.calls("grantBonus")[0].body == {
        "kind": "traffic_mb", "amount": 100, "reason": "apology for an outage",
        "idempotency_key": "key-a",
    }
    bonuses = await billing.bonuses(sub.msisdn)
    assert [(b.idempotency_key, b.kind, b.amount, b.used) for b in bonuses] == [
        ("key-a", "traffic_mb", 100, False), ("key-b", "traffic_mb", 250, False)]
    assert all(isinstance(b.granted_at, datetime) and b.granted_at.tzinfo for b in bonuses)


async def test_a_grant_retried_after_a_5xx_is_still_one_bonus(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    fake.fail_next("grantBonus", 503)
    await _grant(make_billing(), sub.msisdn, "key-r")
    calls = fake.calls("grantBonus")
    assert [c.status for c in calls] == [503, 201]
    assert calls[0].body == calls[1].body  # the same key both times
    assert len(_known(fake, sub.msisdn).bonuses) == 1


async def test_a_409_for_another_key_and_a_reused_key_are_errors(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    billing = make_billing()
    fake.answer_next("grantBonus", {"error": "already_granted", "idempotency_key": "other"},
                     status=409)
    with pytest.raises(BackofficeError, match="HTTP 409"):
        await _grant(billing, sub.msisdn, "key-x")
    fake.answer_next("grantBonus", "<html>conflict</html>", status=409)
    with pytest.raises(BackofficeError, match="HTTP 409"):
        await _grant(billing, sub.msisdn, "key-x")
    await _grant(billing, sub.msisdn, "key-y", amount=100)
    with pytest.raises(BackofficeError, match="HTTP 422"):
        await _grant(billing, sub.msisdn, "key-y", amount=500)  # the same key, another grant
    assert len(_known(fake, sub.msisdn).bonuses) == 1


async def test_bonuses_are_listed_with_the_used_flag(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    sub.bonuses.extend([
        {"kind": "traffic_mb", "amount": 500, "reason": "outage", "idempotency_key": "k1",
         "used": True, "granted_at": "2024-03-01T10:00:00+03:00"},
        {"kind": "traffic_mb", "amount": 100, "reason": "gift", "idempotency_key": "k2",
         "used": False, "granted_at": None},
        {"kind": "minutes", "amount": 30, "reason": "old", "idempotency_key": "k3",
         "used": False, "granted_at": "2024-01-02T03:04:05"},  # no offset: read as UTC
    ])
    bonuses = await make_billing().bonuses(sub.msisdn)
    assert [(b.idempotency_key, b.used, b.amount, b.kind) for b in bonuses] == [
        ("k1", True, 500, "traffic_mb"), ("k2", False, 100, "traffic_mb"),
        ("k3", False, 30, "minutes")]
    assert bonuses[0].granted_at is not None and bonuses[0].granted_at.utcoffset() is not None
    assert bonuses[0].granted_at.isoformat() == "2024-03-01T10:00:00+03:00"
    assert bonuses[1].granted_at is None
    assert bonuses[2].granted_at is not None and bonuses[2].granted_at.utcoffset() is not None
    assert await make_billing().bonuses(fake.add_subscriber().msisdn) == []


@pytest.mark.parametrize(
    ("kind", "amount", "reason", "key"),
    [("", 100, "r", "k"), ("Traffic MB", 100, "r", "k"), ("traffic_mb", 0, "r", "k"),
     ("traffic_mb", -5, "r", "k"), ("traffic_mb", True, "r", "k"), ("traffic_mb", 1.5, "r", "k"),
     ("traffic_mb", 100, " ", "k"), ("traffic_mb", 100, "r", ""),
     ("traffic_mb", 100, "r", "k\n"), ("traffic_mb", 100, "r", "k" * 201)],
)
async def test_a_malformed_grant_is_refused_before_any_request(
    fake: FakeBilling, make_billing: MakeBilling, kind: Any, amount: Any, reason: Any, key: Any
) -> None:
    sub = fake.add_subscriber()
    with pytest.raises(ValueError):
        await make_billing().grant_bonus(sub.msisdn, kind=kind, amount=amount, reason=reason,
                                         idempotency_key=key)
    assert fake.calls() == []


# -- authentication and unexpected answers ---------------------------------------------------

async def test_a_wrong_or_missing_token_is_an_error_without_retries(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    with pytest.raises(BackofficeError, match=r"refused the credentials \(HTTP 401\)") as wrong:
        await make_billing(token="not-the-token").subscriber(sub.msisdn)
    assert "no token was given" not in str(wrong.value)
    with pytest.raises(BackofficeError, match="no token was given"):
        await make_billing(token=None).subscriber(sub.msisdn)
    calls = fake.calls()
    assert [(c.authorization, c.status) for c in calls] == [
        ("Bearer not-the-token", 401), (None, 401)]


async def test_no_token_no_authorization_header(http: httpx.AsyncClient) -> None:
    with FakeBilling(token=None) as open_billing:
        sub = open_billing.add_subscriber()
        billing = HttpBilling(http, open_billing.url + "/", backoff=0.001)  # trailing slash too
        assert await billing.subscriber(sub.msisdn) is not None
        assert open_billing.calls()[0].authorization is None


@pytest.mark.parametrize(
    ("operation", "status", "message"),
    [("getSubscriber", 403, "refused the credentials"),
     ("getSubscriber", 400, "HTTP 400"),
     ("setRoaming", 404, "does not know this subscriber"),
     ("listBonuses", 404, "does not know this subscriber"),
     ("grantBonus", 404, "does not know this subscriber"),
     ("grantBonus", 422, "HTTP 422"),
     ("getSubscriber", 302, "HTTP 302")],
)
async def test_other_answers_are_errors_at_once(
    fake: FakeBilling, make_billing: MakeBilling, operation: str, status: int, message: str
) -> None:
    sub = fake.add_subscriber()
    billing = make_billing()
    fake.fail_next(operation, status)
    call: dict[str, Callable[[], Awaitable[object]]] = {
        "getSubscriber": lambda: billing.subscriber(sub.msisdn),
        "setRoaming": lambda: billing.set_roaming(sub.msisdn, True),
        "grantBonus": lambda: _grant(billing, sub.msisdn),
        "listBonuses": lambda: billing.bonuses(sub.msisdn),
    }
    with pytest.raises(BackofficeError, match=message):
        await call[operation]()
    assert len(fake.calls(operation)) == 1  # not retried


async def test_operations_on_an_unknown_number_are_errors(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    billing = make_billing()
    stranger = random_msisdn()
    with pytest.raises(BackofficeError, match="does not know"):
        await billing.set_roaming(stranger, True)
    with pytest.raises(BackofficeError, match="does not know"):
        await billing.bonuses(stranger)


# -- retries, the breaker, the time budget ----------------------------------------------------

async def test_retries_5xx_then_succeeds(fake: FakeBilling, make_billing: MakeBilling) -> None:
    sub = fake.add_subscriber()
    fake.fail_next("getSubscriber", 500, times=2)
    billing = make_billing(retries=2)
    account = await billing.subscriber(sub.msisdn)
    assert account is not None and account.balance.amount == Decimal(sub.amount)
    assert [c.status for c in fake.calls()] == [500, 500, 200]
    assert billing.http_requests == 3


async def test_gives_up_after_the_retries(fake: FakeBilling, make_billing: MakeBilling) -> None:
    sub = fake.add_subscriber()
    fake.fail_next("setRoaming", 502, times=10)
    with pytest.raises(BackofficeError, match=r"after 3 attempt\(s\) \(HTTP 502\)"):
        await make_billing(retries=2).set_roaming(sub.msisdn, True)
    assert len(fake.calls()) == 3
    assert _known(fake, sub.msisdn).roaming is False


async def test_a_dropped_connection_is_retried(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    fake.drop_next("listBonuses")
    assert await make_billing().bonuses(sub.msisdn) == []
    assert [c.status for c in fake.calls()] == [DROPPED, 200]
    fake.drop_next("getSubscriber", times=3)
    with pytest.raises(BackofficeError, match="RemoteProtocolError"):
        await make_billing(retries=2).subscriber(sub.msisdn)


async def test_429_is_retried_after_retry_after(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    fake.fail_next("getSubscriber", 429, retry_after=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await make_billing(timeout=3.0).subscriber(sub.msisdn) is not None
    assert loop.time() - started >= 0.9  # waited as told
    assert [c.status for c in fake.calls()] == [429, 200]
    # a Retry-After longer than the budget: give up at once rather than wait past it
    fake.fail_next("getSubscriber", 429, retry_after=30)
    started = loop.time()
    with pytest.raises(BackofficeError, match="HTTP 429"):
        await make_billing(timeout=2.0).subscriber(sub.msisdn)
    assert loop.time() - started < 1.5


async def test_a_refused_connection_is_an_error(http: httpx.AsyncClient) -> None:
    billing = HttpBilling(http, f"http://127.0.0.1:{free_port()}", backoff=0.001)
    with pytest.raises(BackofficeError, match=r"after 3 attempt\(s\) \(ConnectError"):
        await billing.subscriber(random_msisdn())


async def test_a_slow_billing_costs_at_most_the_timeout(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    fake.slow("getSubscriber", 5.0)
    billing = make_billing(timeout=0.5, retries=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BackofficeError, match="timed out"):
        await billing.subscriber(sub.msisdn)
    assert loop.time() - started < 1.5  # one budget, not timeout x attempts
    fake.slow("getSubscriber", 0.2)  # slow but within the budget
    assert await make_billing(timeout=2.0).subscriber(sub.msisdn) is not None


async def test_a_hanging_billing_costs_at_most_the_timeout(http: httpx.AsyncClient) -> None:
    async with SilentServer() as silent:
        billing = HttpBilling(http, silent.url, timeout=0.5, retries=2, backoff=0.001)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BackofficeError, match="timed out"):
            await billing.set_roaming(random_msisdn(), True)
        assert loop.time() - started < 1.5
        assert silent.connections >= 1


async def test_the_breaker_opens_and_then_answers_at_once(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30.0, clock=clock)
    billing = make_billing(retries=2, breaker=breaker)
    fake.fail_next("getSubscriber", 500, times=100)
    with pytest.raises(BackofficeError, match="HTTP 500"):
        await billing.subscriber(sub.msisdn)
    assert breaker.state == "open"
    assert len(fake.calls()) == 3

    loop = asyncio.get_running_loop()
    started = loop.time()
    for attempt in (lambda: billing.subscriber(sub.msisdn),
                    lambda: billing.set_roaming(sub.msisdn, True),
                    lambda: _grant(billing, sub.msisdn),
                    lambda: billing.bonuses(sub.msisdn)):
        with pytest.raises(BackofficeError, match="circuit open"):
            await attempt()
    assert loop.time() - started < 0.2
    assert len(fake.calls()) == 3  # nothing went out

    fake.reset()
    fake.add_subscriber(sub.msisdn, amount=sub.amount)
    clock.now += 30.0  # a probe is let through, succeeds, and closes the breaker
    account = await billing.subscriber(sub.msisdn)
    assert account is not None and breaker.state == "closed"


async def test_the_breaker_stops_retries_midway(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    sub = fake.add_subscriber()
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    fake.fail_next("listBonuses", 503, times=10)
    with pytest.raises(BackofficeError, match="circuit open"):
        await make_billing(retries=5, breaker=breaker).bonuses(sub.msisdn)
    assert len(fake.calls()) == 2


async def test_answers_below_500_keep_the_breaker_closed(
    fake: FakeBilling, make_billing: MakeBilling
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=Clock())
    billing = make_billing(breaker=breaker)
    for _ in range(3):
        assert await billing.subscriber(random_msisdn()) is None  # 404: the billing is fine
    assert breaker.state == "closed"


# -- malformed answers -------------------------------------------------------------------------

def _subscriber_body(sub: FakeSubscriber, **changes: Any) -> dict[str, Any]:
    body = sub.as_json()
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = body
        for part in parents:
            target = target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return body


_DELETE = object()
_OTHER = "__other__"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [({"balance": _DELETE}, "balance is missing"),
     ({"balance__amount": _DELETE}, "balance.amount is missing"),
     ({"balance__amount": "12,34"}, "balance.amount is not a decimal"),
     ({"balance__amount": "Infinity"}, "balance.amount is not a decimal"),
     ({"balance__amount": True}, "balance.amount is not a decimal"),
     ({"balance__amount": None}, "balance.amount is not a decimal"),
     ({"balance__currency": "byn"}, "not an ISO 4217 code"),
     ({"balance__currency": 933}, "balance.currency is not"),
     ({"balance": "12.34 BYN"}, "balance is not a JSON object"),
     ({"tariff": {}}, "tariff.name is missing"),
     ({"tariff": "Smart"}, "tariff is not a JSON object"),
     ({"tariff": _DELETE}, "tariff is missing"),
     ({"roaming": {"enabled": "yes"}}, "roaming.enabled is not true or false"),
     ({"roaming": True}, "roaming is not a JSON object"),
     ({"status": ""}, "status is not a non-empty string"),
     ({"status": _DELETE}, "status is missing"),
     ({"msisdn": _DELETE}, "msisdn is missing"),
     ({"msisdn": _OTHER}, "another subscriber's number")],
)
async def test_a_malformed_subscriber_is_an_error(
    fake: FakeBilling, make_billing: MakeBilling, changes: dict[str, Any], problem: str
) -> None:
    sub = fake.add_subscriber()
    if changes.get("msisdn") is _OTHER:
        changes = {"msisdn": random_msisdn()}
    fake.answer_next("getSubscriber", _subscriber_body(sub, **changes))
    with pytest.raises(BackofficeError, match="malformed body") as caught:
        await make_billing().subscriber(sub.msisdn)
    assert problem in str(caught.value)
    assert len(fake.calls()) == 1  # a bad answer is not retried


@pytest.mark.parametrize(
    ("operation", "body", "problem"),
    [("getSubscriber", "<html><body>Gateway says hi</body></html>", "not JSON"),
     ("getSubscriber", '{"msisdn": "37529', "not JSON"),
     ("getSubscriber", "", "not JSON"),
     ("getSubscriber", '{"balance": {"amount": NaN}}', "not JSON"),
     ("getSubscriber", [], "the body is not a JSON object"),
     ("setRoaming", {}, "enabled is missing"),
     ("setRoaming", {"enabled": "true"}, "enabled is not true or false"),
     ("setRoaming", "ok", "not JSON"),
     ("listBonuses", [], "the body is not a JSON object"),
     ("listBonuses", {"items": {}}, "items is not a list"),
     ("listBonuses", {"bonuses": []}, "items is missing"),
     ("listBonuses", {"items": [{"kind": "traffic_mb", "amount": "100", "reason": "r",
                                 "idempotency_key": "k", "used": False}]},
      "items[0].amount is not an integer"),
     ("listBonuses", {"items": [{"kind": "traffic_mb", "amount": 100, "reason": "r",
                                 "idempotency_key": "k"}]}, "items[0].used is missing"),
     ("listBonuses", {"items": [{"kind": "traffic_mb", "amount": 100, "reason": "r",
                                 "idempotency_key": "k", "used": False,
                                 "granted_at": "yesterday"}]},
      "items[0].granted_at is not an RFC 3339 date-time")],
)
async def test_other_malformed_answers_are_errors(
    fake: FakeBilling, make_billing: MakeBilling, operation: str, body: Any, problem: str
) -> None:
    sub = fake.add_subscriber()
    billing = make_billing()
    fake.answer_next(operation, body)
    call: dict[str, Callable[[], Awaitable[object]]] = {
        "getSubscriber": lambda: billing.subscriber(sub.msisdn),
        "setRoaming": lambda: billing.set_roaming(sub.msisdn, True),
        "listBonuses": lambda: billing.bonuses(sub.msisdn),
    }
    with pytest.raises(BackofficeError) as caught:
        await call[operation]()
    assert problem in str(caught.value)


# -- privacy -----------------------------------------------------------------------------------

async def test_no_number_token_or_figure_in_logs_or_errors(
    fake: FakeBilling, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    sub = fake.add_subscriber(tariff="Secret Tariff 77")
    stranger = random_msisdn()
    secrets = [sub.msisdn, stranger, FAKE_BILLING_TOKEN, sub.amount, sub.amount.lstrip("-"),
               "Secret Tariff 77"]
    errors: list[BaseException] = []

    async def expect_error(call: Awaitable[object]) -> None:
        try:
            await call
        except BackofficeError as exc:
            errors.append(exc)
        else:
            raise AssertionError("expected a BackofficeError")

    breaker = CircuitBreaker(failure_threshold=50, clock=Clock())
    billing = HttpBilling(http, fake.url, FAKE_BILLING_TOKEN, backoff=0.001, breaker=breaker,
                          timeout=1.0)
    with caplog.at_level(logging.DEBUG):
        await billing.subscriber(sub.msisdn)
        await billing.subscriber(stranger)
        await billing.set_roaming(sub.msisdn, True)
        await _grant(billing, sub.msisdn)
        await billing.bonuses(sub.msisdn)
        # failures whose bodies quote the figures: never repeated
        body = sub.as_json()
        fake.fail_next("getSubscriber", 500, times=3, body=str(body))
        await expect_error(billing.subscriber(sub.msisdn))
        fake.answer_next("getSubscriber", {**body, "balance": {"amount": sub.amount,
                                                               "currency": "bad"}})
        await expect_error(billing.subscriber(sub.msisdn))
        fake.answer_next("getSubscriber", f"not json: {body}")
        await expect_error(billing.subscriber(sub.msisdn))
        fake.answer_next("getSubscriber", {**body, "msisdn": stranger})
        await expect_error(billing.subscriber(sub.msisdn))
        fake.fail_next("setRoaming", 400, body=str(body))
        await expect_error(billing.set_roaming(sub.msisdn, False))
        fake.drop_next("listBonuses", times=3)
        await expect_error(billing.bonuses(sub.msisdn))
        await expect_error(billing.set_roaming(stranger, True))
        await expect_error(HttpBilling(http, fake.url, "wrong-" + FAKE_BILLING_TOKEN,
                                       backoff=0.001).subscriber(sub.msisdn))
        fake.slow("getSubscriber", 3.0)
        await expect_error(billing.subscriber(sub.msisdn))
        async with SilentServer() as silent:
            hung = HttpBilling(http, silent.url, FAKE_BILLING_TOKEN, timeout=0.3)
            await expect_error(hung.grant_bonus(sub.msisdn, kind="traffic_mb", amount=100,
                                                reason="r", idempotency_key="k"))
        dead = HttpBilling(http, f"http://127.0.0.1:{free_port()}", FAKE_BILLING_TOKEN,
                           backoff=0.001)
        await expect_error(dead.subscriber(sub.msisdn))
    fake.slow("getSubscriber", 0)

    assert len(errors) == 11
    logged = caplog.text
    assert "HTTP Request: GET" in logged and "/subscribers/***" in logged  # httpx logged, masked
    texts = [logged, repr(billing)]
    texts += [str(exc) for exc in errors]
    texts += ["".join(traceback.format_exception(exc)) for exc in errors]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into: {text[:300]}"


def test_the_masking_helper() -> None:
    line = 'HTTP Request: PUT http://b/subscribers/375291234567/roaming "HTTP/1.1 200 OK"'
    assert mask_msisdns(line) == line.replace("375291234567", "***")
    assert mask_msisdns("port 8080, /subscribers/123") == "port 8080, /subscribers/123"
    assert mask_msisdns("GET https://u:p4ss@bss/subscribers/375291234567") == (
        "GET https://***@bss/subscribers/***")


async def test_a_billing_url_must_be_http(http: httpx.AsyncClient) -> None:
    for bad in ("bss.example:8080", "ftp://bss.example", ""):
        with pytest.raises(ValueError, match="http:// or https://"):
            HttpBilling(http, bad)
    with pytest.raises(ValueError, match="timeout"):
        HttpBilling(http, "http://bss.example", timeout=0)


async def test_credentials_in_the_url_stay_out_of_messages(http: httpx.AsyncClient) -> None:
    port = free_port()
    billing = HttpBilling(http, f"http://user:pa55word@127.0.0.1:{port}/v1", backoff=0.001,
                          retries=0)
    assert "pa55word" not in repr(billing)
    with pytest.raises(BackofficeError) as caught:
        await billing.subscriber(random_msisdn())
    assert "pa55word" not in str(caught.value)
    assert f"127.0.0.1:{port}/v1/subscribers/***" in str(caught.value)
