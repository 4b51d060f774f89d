"""The real trained model behind the real Rasa server, through the app's client and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from nlu import NluClient, ParseCache
from nlu.server import RasaServer

pytestmark = pytest.mark.rasa


@pytest.fixture
async def client(rasa_server: RasaServer) -> AsyncIterator[NluClient]:
    async with httpx.AsyncClient() as http:
        yield NluClient(http, rasa_server.url, rasa_server.token, cache=ParseCache())


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("сколько денег у меня на счету", "check_balance"),
        ("позовите живого человека", "human_request"),
        ("рецепт борща", "out_of_scope"),
        ("какой у меня баланс", "check_balance"),
        ("как позвонить в поддержку с городского", "support_contacts"),
        ("позовите оператора", "human_request"),
        ("what's my phone number", "my_number"),
        ("дзякуй вялікі", "thanks"),
    ],
)
async def test_the_model_understands(client: NluClient, text: str, family: str) -> None:
    result = await client.parse(text)
    assert result.family == family, result


async def test_country_in_a_russian_case_form_is_canonical(client: NluClient) -> None:
    result = await client.parse("еду в Польшу, будет ли работать интернет")
    assert result.family == "roaming"
    assert result.entities_dict().get("country") == "Poland"
    for text in ("что с роумингом в Польше", "звоню из Польши, не работает связь"):
        assert (await client.parse(text)).entities_dict().get("country") == "Poland", text


async def test_english_roaming_trouble_finds_the_country(client: NluClient) -> None:
    result = await client.parse("I'm in Poland and mobile data doesn't work")
    assert result.intent == "roaming_trouble"
    assert result.entities_dict().get("country") == "Poland"
    assert result.lang == "en"


async def test_gibberish_is_not_a_topic(client: NluClient) -> None:
    result = await client.parse("абырвалг")
    assert result.family in ("out_of_scope", "nlu_fallback")


async def test_cache_hit_does_not_call_rasa(client: NluClient) -> None:
    first = await client.parse("Баланс?")
    requests = client.http_requests
    second = await client.parse("  баланс ")
    assert client.http_requests == requests
    assert client.cache_hits >= 1
    assert second.intent == first.intent


def test_cli_parse_prints_intent_and_entities(rasa_server: RasaServer) -> None:
    env = {**os.environ, "RASA_URL": rasa_server.url, "RASA_TOKEN": rasa_server.token}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "nlu", "parse", "еду в Польшу, будет ли работать интернет"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "roaming" in done.stdout
    assert "country=Poland" in done.stdout
    assert "language:   ru" in done.stdout
