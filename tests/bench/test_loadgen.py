"""The load generator against an in-process HTTP transport: each message from a new subscriber,
texts in the order given, non-200 answers counted as errors, replies checked. No timing asserts."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from bench.loadgen import ABONENT_PATH, RASA_PATH, LoadGenerator, LoadSpec


def spec(target: str, **load: float) -> LoadSpec:
    return LoadSpec(
        target=target, url="http://bench.test", texts_file="unused", id_prefix="t",
        warmup=0.05, duration=0.2, **load,  # type: ignore[arg-type]
    )


async def test_closed_loop_sends_each_text_from_a_new_subscriber() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == ABONENT_PATH
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"replies": [{"text": "ok"}]})

    texts = [f"text {n}" for n in range(100_000)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await LoadGenerator(spec("abonent", clients=4), http, texts).run()
    users = [body["user_id"] for body in seen]
    assert len(set(users)) == len(users)
    assert [body["text"] for body in seen] == texts[: len(seen)]
    assert result.errors == 0 and result.empty == 0
    assert 0 < len(result.latencies) <= len(seen)
    assert not result.texts_exhausted


async def test_open_loop_counts_errors_and_empty_answers() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == RASA_PATH
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            return httpx.Response(500, json={"error": "boom"})
        if calls["n"] % 3 == 1:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"recipient_id": "t", "text": "ok"}])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await LoadGenerator(spec("rasa", rate=100.0), http, ["привет"]).run()
    measured = len(result.latencies) + result.errors
    assert measured > 0
    assert result.errors == result.statuses.get("500", 0) > 0
    assert 0 < result.empty < len(result.latencies)
    assert result.texts_exhausted  # one text, sent many times: said so
