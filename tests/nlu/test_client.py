"""NluClient against a real HTTP server on loopback (tests/support/fake_rasa.py); no httpx mocks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

from knowledge_base.keywords import KeywordMatcher
from nlu import (
    FALLBACK_INTENT,
    CircuitBreaker,
    NluBadResponse,
    NluClient,
    NluError,
    NluUnavailable,
    ParseCache,
)
from tests.support.fake_rasa import FAKE_RASA_TOKEN, FakeRasa
from tests.support.servers import free_port
from tests.support.silent_server import SilentServer

MakeClient = Callable[..., NluClient]
PARSE = "/model/parse"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_parse_sends_text_with_token_and_reads_the_answer(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    text = "Колькі грошай на рахунку?"
    rasa.answer(
        "check_balance",
        0.93,
        ranking=[("check_balance", 0.93), ("my_number", 0.04)],
        entities=[{"entity": "topic", "start": 7, "end": 13, "value": "money", "extractor": "X"}],
    )
    client = make_client()
    result = await client.parse(text)
    assert (result.intent, result.family, result.confidence) == ("check_balance",) * 2 + (0.93,)
    assert [s.name for s in result.ranking] == ["check_balance", "my_number"]
    assert result.entities_dict()["topic"] == "money" and result.entities[0].text == "грошай"
    assert result.lang == "be"  # ours, not Rasa's
    assert result.model_id == "model-1"
    parse = [r for r in rasa.requests if r.path == PARSE]
    assert len(parse) == 1
    assert parse[0].method == "POST" and parse[0].body == {"text": text}
    assert parse[0].token == FAKE_RASA_TOKEN


async def test_lang_hint_wins(rasa: FakeRasa, make_client: MakeClient) -> None:
    result = await make_client().parse("Как проверить баланс?", lang_hint="be")
    assert result.lang == "be"


async def test_a_cache_hit_sends_no_request(rasa: FakeRasa, make_client: MakeClient) -> None:
    rasa.answer("check_balance", 0.9)
    client = make_client(cache=ParseCache())
    first = await client.parse("Баланс?")
    before = rasa.count()
    again = await client.parse("  баланс!! ")
    assert rasa.count() == before  # nothing at all went out
    assert rasa.count(PARSE) == 1
    assert again.intent == first.intent == "check_balance"
    assert again.text == "  баланс!! "
    assert (client.calls, client.cache_hits) == (2, 1)


async def test_a_cache_hit_takes_its_own_language_and_entity_offsets(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    rasa.answer(
        "roaming",
        entities=[{"entity": "country", "start": 8, "end": 14, "value": "Польша"}],
    )
    client = make_client(cache=ParseCache())
    await client.parse("роуминг Польша")
    hit = await client.parse("  Роуминг   ПОЛЬША", lang_hint="be")
    assert rasa.count(PARSE) == 1
    assert hit.lang == "be"
    e = hit.entities[0]
    assert (e.value, e.text, hit.text[e.start : e.end]) == ("Польша", "ПОЛЬША", "ПОЛЬША")


async def test_without_a_cache_every_parse_goes_to_rasa(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client()
    for _ in range(3):
        await client.parse("баланс")
    assert rasa.count(PARSE) == 3
    assert rasa.count("/status") == 1  # the model id is remembered
    assert client.cache_hits == 0


async def test_retries_5xx_then_succeeds(rasa: FakeRasa, make_client: MakeClient) -> None:
    rasa.fail_next(2, 500, path=PARSE)
    client = make_client(retries=2)
    result = await client.parse("баланс")
    assert result.intent == "greet"
    assert rasa.count(PARSE) == 3


async def test_retries_dropped_connections(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client(retries=2)
    await client.model_id()
    rasa.drop_next(2, path=PARSE)
    assert (await client.parse("баланс")).intent == "greet"
    assert rasa.count(PARSE) == 3


async def test_gives_up_after_retries(rasa: FakeRasa, make_client: MakeClient) -> None:
    rasa.fail_next(100, 503, path=PARSE)
    client = make_client(retries=2)
    with pytest.raises(NluUnavailable, match="abonent nlu serve") as caught:
        await client.parse("баланс")
    assert "HTTP 503" in str(caught.value) and "3 attempt" in str(caught.value)
    assert rasa.count(PARSE) == 3


async def test_back_off_grows(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client(retries=2, backoff=0.05)
    await client.model_id()
    rasa.fail_next(100, path=PARSE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NluUnavailable):
        await client.parse("баланс")
    # two sleeps: 0.05 * (1 + 2) * jitter in [0.5, 1.5]
    assert 0.07 <= loop.time() - started < 1.0


async def test_connection_refused_is_unavailable(make_client: MakeClient) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}", retries=1)
    with pytest.raises(NluUnavailable, match="RASA_URL"):
        await client.parse("баланс")
    assert client.http_requests == 2


async def test_timeouts_are_retried_then_unavailable(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(retries=1, timeout=0.05)
    await client.model_id()
    rasa.delay = 0.3
    with pytest.raises(NluUnavailable, match="timed out"):
        await client.parse("баланс")
    assert rasa.count(PARSE) == 2


async def test_wrong_token_is_a_bad_response_at_once(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(token="wrong-token")
    with pytest.raises(NluBadResponse, match="RASA_TOKEN") as caught:
        await client.parse("баланс")
    assert "401" in str(caught.value) and "wrong-token" not in str(caught.value)
    assert rasa.count() == 1  # /status refused; no retry, no parse


async def test_missing_token_says_so(rasa: FakeRasa, make_client: MakeClient) -> None:
    with pytest.raises(NluBadResponse, match="no token was given"):
        await make_client(token=None).model_id()


async def test_4xx_is_not_retried(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client()
    await client.model_id()
    rasa.fail_next(1, 400, path=PARSE)
    with pytest.raises(NluBadResponse, match="HTTP 400"):
        await client.parse("баланс")
    assert rasa.count(PARSE) == 1


async def test_wrong_url_is_a_bad_response(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client(base_url=rasa.url + "/not-rasa")
    with pytest.raises(NluBadResponse, match="--enable-api"):
        await client.parse("баланс")


async def test_no_model_loaded_is_unavailable(rasa: FakeRasa, make_client: MakeClient) -> None:
    rasa.model_loaded = False
    client = make_client()
    with pytest.raises(NluUnavailable, match="no model loaded"):
        await client.parse("баланс")
    assert not await client.ready()


async def test_errors_share_one_root() -> None:
    assert issubclass(NluUnavailable, NluError) and issubclass(NluBadResponse, NluError)


async def test_breaker_opens_and_short_circuits(rasa: FakeRasa, make_client: MakeClient) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30.0, clock=clock)
    client = make_client(retries=0, breaker=breaker)
    await client.model_id()
    rasa.fail_next(100, 500, path=PARSE)
    for _ in range(3):
        with pytest.raises(NluUnavailable, match="HTTP 500"):
            await client.parse("баланс")
    assert breaker.state == "open"
    sent = rasa.count()
    with pytest.raises(NluUnavailable, match="circuit open"):
        await client.parse("баланс")
    assert rasa.count() == sent  # no HTTP at all


async def test_breaker_stops_retries_midway(rasa: FakeRasa, make_client: MakeClient) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    client = make_client(retries=5, breaker=breaker)
    await client.model_id()
    rasa.fail_next(100, path=PARSE)
    with pytest.raises(NluUnavailable, match="circuit open"):
        await client.parse("баланс")
    assert rasa.count(PARSE) == 2


async def test_breaker_half_open_recovers(rasa: FakeRasa, make_client: MakeClient) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30.0, clock=clock)
    client = make_client(retries=0, breaker=breaker)
    await client.model_id()
    rasa.fail_next(3, 500, path=PARSE)
    for _ in range(2):
        with pytest.raises(NluUnavailable):
            await client.parse("баланс")
    clock.now += 30
    assert breaker.state == "half-open"
    with pytest.raises(NluUnavailable):  # the probe fails (third injected 500): open again
        await client.parse("баланс")
    assert breaker.state == "open"
    clock.now += 30
    result = await client.parse("баланс")  # the probe succeeds
    assert result.intent == "greet"
    assert breaker.state == "closed"
    assert rasa.count(PARSE) == 4


async def test_a_new_model_changes_the_cache_key(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client(cache=ParseCache(), model_id_ttl=0)
    rasa.answer("check_balance")
    assert (await client.parse("баланс")).model_id == "model-1"
    assert (await client.parse("баланс")).intent == "check_balance"
    assert rasa.count(PARSE) == 1
    rasa.model_id = "model-2"
    rasa.answer("my_number")
    result = await client.parse("баланс")
    assert (result.model_id, result.intent) == ("model-2", "my_number")
    assert rasa.count(PARSE) == 2


async def test_the_model_id_is_remembered_for_its_ttl(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(model_id_ttl=60)
    assert await client.model_id() == "model-1"
    rasa.model_id = "model-2"
    assert await client.model_id() == "model-1"
    assert rasa.count("/status") == 1


async def test_cache_keeps_answering_when_status_fails(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(cache=ParseCache(), model_id_ttl=0)
    await client.parse("баланс")
    rasa.fail_next(100, 502, path="/status")
    result = await client.parse("Баланс")
    assert result.model_id == "model-1"
    assert rasa.count(PARSE) == 1
    assert rasa.count("/status") == 2  # one quick try, no retries, with an old id to fall back on
    with pytest.raises(NluUnavailable):
        await client.model_id()  # asked directly, it does not pretend


async def test_concurrent_first_calls_ask_status_once(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(cache=ParseCache())
    results = await asyncio.gather(*(client.parse(f"текст {i % 5}") for i in range(40)))
    assert len(results) == 40
    assert rasa.count("/status") == 1
    assert rasa.count(PARSE) + client.cache_hits >= 40 - 5


async def test_nlu_fallback_mapping(rasa: FakeRasa, make_client: MakeClient) -> None:
    rasa.answer_fallback([("check_balance", 0.33), ("roaming", 0.41), ("greet", 0.1)])
    result = await make_client().parse("эээ ну это самое")
    assert result.intent == FALLBACK_INTENT
    assert (result.intent, result.family, result.confidence) == ("nlu_fallback",) * 2 + (0.41,)
    assert [s.name for s in result.ranking] == ["roaming", "check_balance", "greet"]


async def test_ready_version_and_model_id(rasa: FakeRasa, make_client: MakeClient) -> None:
    client = make_client()
    assert await client.ready()
    assert await client.model_id() == "model-1"
    assert await client.version() == "3.6.21"
    version_requests = [r for r in rasa.requests if r.path == "/version"]
    assert version_requests[0].token is None  # /version needs no auth


async def test_ready_is_false_when_rasa_is_not(rasa: FakeRasa, make_client: MakeClient) -> None:
    assert not await make_client(token="nope").ready()
    dead = make_client(base_url=f"http://127.0.0.1:{free_port()}")
    assert not await dead.ready()
    assert await dead.version() is None


async def test_token_never_reaches_logs_or_repr(
    rasa: FakeRasa, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        await client.parse("баланс")
    assert FAKE_RASA_TOKEN not in caplog.text
    assert "token=***" in caplog.text  # httpx logged the request, masked
    assert FAKE_RASA_TOKEN not in repr(client)


async def test_shares_a_caller_owned_http_client(rasa: FakeRasa) -> None:
    async with httpx.AsyncClient() as http:
        client = NluClient(http, rasa.url + "/", FAKE_RASA_TOKEN)
        assert (await client.parse("hi")).lang == "en"
    assert http.is_closed


# -- the time budget and the degraded mode (issue #8: Rasa down) -----------------------------

async def test_a_hanging_rasa_costs_one_budget_not_timeout_times_attempts(
    make_client: MakeClient,
) -> None:
    # Rasa accepts the connection and never answers. Before the budget, timeout=5 per request
    # x 3 attempts (+ back-off) cost ~15 s for /status and as much again for the parse.
    async with SilentServer() as silent:
        client = make_client(base_url=silent.url, timeout=5.0, retries=2, budget=1.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NluUnavailable, match="timed out"):
            await client.parse("баланс")
        assert loop.time() - started < 3.0  # generous: the budget is 1 s
        assert silent.connections >= 1


async def test_the_default_budget_is_under_the_five_second_promise() -> None:
    async with httpx.AsyncClient() as http:
        client = NluClient(http, "http://127.0.0.1:1")
    assert client.budget <= 3.0
    assert CircuitBreaker().failure_threshold <= 3


async def test_waiting_behind_a_hung_status_refresh_is_bounded(make_client: MakeClient) -> None:
    async with SilentServer() as silent:
        client = make_client(base_url=silent.url, retries=0, budget=0.5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(
            *(client.parse(f"текст {i}") for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, NluUnavailable) for r in results), results
        assert loop.time() - started < 2.5  # each waits at most its own budget, not in a queue


async def test_retries_and_back_off_stop_at_the_budget(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(retries=10, backoff=0.2, budget=0.5)
    await client.model_id()
    rasa.fail_next(100, 500, path=PARSE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NluUnavailable, match="HTTP 500"):
        await client.parse("баланс")
    assert loop.time() - started < 2.0
    assert rasa.count(PARSE) < 11  # back-off 0.2, 0.4, 0.8... leaves no room for all of them


async def test_rasa_down_a_keyword_still_understands(make_client: MakeClient) -> None:
    client = make_client(
        base_url=f"http://127.0.0.1:{free_port()}", keywords=KeywordMatcher.default()
    )
    result = await client.parse("какой у меня баланс")
    assert (result.intent, result.model_id, result.lang) == ("check_balance", "keywords", "ru")
    assert client.keyword_answers == 1
    with pytest.raises(NluUnavailable):
        await client.parse("рецепт борща")  # no keyword: the error, as before


async def test_rasa_answering_500_falls_back_to_keywords_and_does_not_cache_them(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    client = make_client(cache=ParseCache(), keywords=KeywordMatcher.default())
    await client.model_id()
    rasa.fail_next(3, 500, path=PARSE)
    assert (await client.parse("роуминг")).model_id == "keywords"
    rasa.answer("roaming_prices")
    result = await client.parse("роуминг")  # Rasa is back: its answer, not a cached keyword one
    assert (result.intent, result.model_id) == ("roaming_prices", "model-1")


async def test_by_default_there_is_no_degraded_mode(make_client: MakeClient) -> None:
    # the evaluation and `abonent nlu parse` must see Rasa's own errors, never keyword guesses
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}")
    assert client.keywords is None
    with pytest.raises(NluUnavailable):
        await client.parse("баланс")


async def test_an_open_breaker_answers_at_once_keywords_included(
    rasa: FakeRasa, make_client: MakeClient
) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30.0, clock=Clock())
    client = make_client(retries=2, breaker=breaker, keywords=KeywordMatcher.default())
    await client.model_id()
    rasa.fail_next(100, 503, path=PARSE)
    assert (await client.parse("баланс")).model_id == "keywords"  # 3 failures: open
    assert breaker.state == "open"
    sent = rasa.count()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await client.parse("мой номер")).intent == "my_number"
    with pytest.raises(NluUnavailable, match="circuit open"):
        await client.parse("ыыы")
    assert rasa.count() == sent  # no HTTP at all
    assert loop.time() - started < 1.0
