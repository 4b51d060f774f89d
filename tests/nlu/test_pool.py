"""Several Rasa servers behind one NluClient (``RASA_URL`` with a comma-separated list): real HTTP
to fake Rasa servers on loopback (tests/support/fake_rasa.py), and once to the real Rasa."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from bot.app import create_app
from nlu import CircuitBreaker, NluClient, NluUnavailable, ParseCache
from nlu.pool import parse_server_urls
from nlu.server import RasaServer
from tests.support.app import ExternalRasa, base_settings
from tests.support.fake_rasa import FAKE_RASA_TOKEN, FakeRasa
from tests.support.servers import LiveServer, free_port
from tests.support.silent_server import SilentServer

PARSE = "/model/parse"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fakes() -> Iterator[list[FakeRasa]]:
    servers = [FakeRasa(token=FAKE_RASA_TOKEN, model_id="model-1") for _ in range(3)]
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def pool_of(http: httpx.AsyncClient, *urls: str, **kwargs: object) -> NluClient:
    kwargs.setdefault("backoff", 0.001)
    return NluClient(http, ", ".join(urls), FAKE_RASA_TOKEN, **kwargs)  # type: ignore[arg-type]


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def parses(server: FakeRasa) -> list[str]:
    return [r.body["text"] for r in server.requests if r.path == PARSE]


async def test_requests_take_turns_over_every_server(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    client = pool_of(http, *(f.url for f in fakes))
    assert len(client.servers) == 3
    for number in range(30):
        assert (await client.parse(f"текст {number}")).intent == "greet"
    assert [f.count(PARSE) for f in fakes] == [10, 10, 10]
    assert sum(f.count("/status") for f in fakes) == 1  # one model id for the whole pool


async def test_the_cache_sits_in_front_of_the_pool(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    client = pool_of(http, *(f.url for f in fakes), cache=ParseCache())
    for _ in range(4):
        await client.parse("баланс")
    assert sum(f.count(PARSE) for f in fakes) == 1
    assert client.cache_hits == 3


async def test_a_retry_goes_to_another_server(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    first, second = fakes[:2]
    client = pool_of(http, first.url, second.url, retries=1)
    await client.model_id()
    first.fail_next(100, 503, path=PARSE)  # the first keeps failing: a retry there would fail
    for number in range(4):
        assert (await client.parse(f"текст {number}")).intent == "greet"
    failed_first = parses(first)
    assert failed_first  # requests went to the failing server and were retried...
    assert set(failed_first) <= set(parses(second))  # ...each on the other one
    assert all(parses(first).count(text) == 1 for text in failed_first)


async def test_a_retry_goes_to_another_server_even_a_busier_one(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    # fewest requests in flight wins, except over a server that already failed this request
    failing, slow = fakes[:2]
    client = pool_of(http, failing.url, slow.url, retries=1)
    await client.model_id()
    failing.fail_next(100, 503, path=PARSE)
    slow.delay = 0.2
    texts = [f"текст {number}" for number in range(6)]
    results = await asyncio.gather(*(client.parse(text) for text in texts))
    assert [result.intent for result in results] == ["greet"] * 6
    assert parses(failing)  # some went to the failing server first...
    assert sorted(parses(slow)) == sorted(texts)  # ...and every one was answered by the other
    assert len(parses(failing)) == len(set(parses(failing)))  # never retried where it failed


async def test_a_dead_server_is_routed_around_and_its_breaker_opens(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    clock = Clock()
    template = CircuitBreaker(failure_threshold=2, reset_after=30.0, clock=clock)
    client = pool_of(http, *(f.url for f in fakes), retries=2, breaker=template)
    sick = fakes[1]
    breakers = [server.breaker for server in client.servers]
    assert breakers[0] is template and len({id(b) for b in breakers}) == 3  # one per server
    await client.model_id()
    sick.fail_next(100_000, 500)
    for number in range(12):
        assert (await client.parse(f"текст {number}")).intent == "greet"
    sick_breaker = client.servers[1].breaker
    assert sick_breaker is not None and sick_breaker.state == "open"
    assert sick.count(PARSE) == 2  # the threshold; then no more requests to it
    assert [client.servers[i].breaker.state for i in (0, 2)] == ["closed", "closed"]  # type: ignore[union-attr]
    healthy = [f.count(PARSE) for f in (fakes[0], fakes[2])]
    assert sum(healthy) == 12 and min(healthy) >= 5  # the two others share all of it

    # it comes back: after reset_after, the half-open probe finds it well and it is used again
    sick.reset()
    clock.now += 30
    for number in range(6):
        await client.parse(f"снова {number}")
    assert sick_breaker.state == "closed"
    assert sick.count(PARSE) == 2


async def test_a_stopped_server_is_skipped_then_used_again_once_restarted(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    clock = Clock()
    client = pool_of(
        http, *(f.url for f in fakes), retries=2,
        breaker=lambda: CircuitBreaker(failure_threshold=2, reset_after=30.0, clock=clock),
    )
    await client.model_id()
    fakes[2].stop()
    for number in range(9):
        assert (await client.parse(f"текст {number}")).intent == "greet"
    assert fakes[0].count(PARSE) + fakes[1].count(PARSE) == 9
    stopped = client.servers[2].breaker
    assert stopped is not None and stopped.state == "open"
    sent = client.http_requests
    for number in range(4):
        await client.parse(f"ещё {number}")
    assert client.http_requests == sent + 4  # no attempt at the stopped one while it is open

    fakes[2].restart()
    clock.now += 30
    for number in range(6):
        await client.parse(f"снова {number}")
    assert stopped.state == "closed"
    assert fakes[2].count(PARSE) == 2  # the probe, then its turn like the others


async def test_a_hanging_server_leaves_budget_for_the_others(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    # it accepts connections and never answers: each try there may take only its share of the
    # budget, not all of it (one server alone would have timeout=5 > budget)
    async with SilentServer() as silent:
        client = pool_of(http, silent.url, fakes[0].url, retries=1, timeout=5.0, budget=2.0)
        for number in range(3):
            assert (await client.parse(f"текст {number}")).intent == "greet"
        assert silent.connections >= 2
        assert fakes[0].count(PARSE) == 3


async def test_all_down_fails_at_once_naming_every_server(http: httpx.AsyncClient) -> None:
    urls = [dead_url(), dead_url()]
    client = pool_of(
        http, *urls, retries=2, breaker=CircuitBreaker(failure_threshold=1, clock=Clock())
    )
    with pytest.raises(NluUnavailable) as first:
        await client.parse("баланс")
    assert all(url in str(first.value) for url in urls)
    assert "баланс" not in str(first.value)  # no message text in errors
    sent = client.http_requests
    with pytest.raises(NluUnavailable, match="circuit open") as again:
        await client.parse("баланс")
    assert client.http_requests == sent  # no HTTP at all
    assert all(url in str(again.value) for url in urls)


async def test_a_server_without_a_model_is_routed_around(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    fakes[0].model_loaded = False
    client = pool_of(http, fakes[0].url, fakes[1].url, retries=1)
    for number in range(4):
        assert (await client.parse(f"текст {number}")).intent == "greet"
    assert fakes[1].count(PARSE) == 4


async def test_readiness_counts_each_server(
    fakes: list[FakeRasa], http: httpx.AsyncClient
) -> None:
    dead = dead_url()
    fakes[1].model_loaded = False
    client = pool_of(http, fakes[0].url, fakes[1].url, dead)
    states = await client.check_servers()
    assert states == {fakes[0].url: "ok", fakes[1].url: "no model loaded", dead: "unreachable"}
    assert await client.ready()
    assert await client.version() == "3.6.21"


def test_the_url_list_is_parsed_and_a_bad_url_named() -> None:
    assert parse_server_urls(" http://a:5005/ ,https://b:5005,, ") == (
        "http://a:5005", "https://b:5005"
    )
    with pytest.raises(ValueError, match=r"'htp://b:5005' \(server 2 of 3\)"):
        parse_server_urls("http://a:5005,htp://b:5005,http://c:5005")
    with pytest.raises(ValueError, match="listed twice"):
        parse_server_urls("http://a:5005,http://a:5005/")
    with pytest.raises(ValueError, match=r"token=\*\*\*"):
        parse_server_urls("http://a:5005?token=hunter2")


def test_settings_take_a_list_and_name_the_bad_url() -> None:
    settings = base_settings(rasa_url=" http://10.0.0.1:5005/, http://10.0.0.2:5005 ")
    assert settings.rasa_url == "http://10.0.0.1:5005,http://10.0.0.2:5005"
    assert base_settings(rasa_url="http://rasa:5005/").rasa_url == "http://rasa:5005"
    assert base_settings(rasa_url=" ").rasa_url is None
    with pytest.raises(ValidationError, match=r"RASA_URL: '10\.0\.0\.2:5005' \(server 2 of 2\)"):
        base_settings(rasa_url="http://10.0.0.1:5005,10.0.0.2:5005")
    with pytest.raises(ValidationError, match="RASA_URL: 'http://10.0.0.1:0x' is not"):
        base_settings(rasa_url="http://10.0.0.1:0x")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_readyz_is_ready_with_one_of_two_servers_and_names_the_dead_one(
    database_url: str, fakes: list[FakeRasa]
) -> None:
    dead = dead_url()
    settings = base_settings(
        database_url=database_url, rasa_url=f"{fakes[0].url},{dead}",
        rasa_token=SecretStr(FAKE_RASA_TOKEN),
    )
    async with LiveServer(create_app(settings)) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as web:
        response = await web.get("/readyz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ready"] is True
        assert body["checks"]["nlu"].startswith("degraded") and dead in body["checks"]["nlu"]
        assert fakes[0].url not in body["checks"]["nlu"]
        assert body["nlu_servers"] == {fakes[0].url: "ok", dead: "unreachable"}

        fakes[0].stop()
        response = await web.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["nlu"].startswith("unreachable")


@pytest.mark.rasa
async def test_the_real_rasa_answers_every_parse_with_a_dead_server_in_the_list(
    rasa_server: RasaServer | ExternalRasa, http: httpx.AsyncClient
) -> None:
    client = NluClient(
        http, f"{dead_url()},{rasa_server.url}", rasa_server.token, retries=2, timeout=10,
        budget=20, breaker=CircuitBreaker(),
    )
    texts = ["какой у меня баланс", "роуминг в Турции", "позовите оператора", "мой номер"]
    results = [await client.parse(text) for text in texts * 2]
    assert all(result.model_id != "keywords" for result in results)
    assert results[0].intent == "check_balance"
    dead_breaker = client.servers[0].breaker
    assert dead_breaker is not None and dead_breaker.state == "open"
