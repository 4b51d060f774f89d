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


# Issue #12: a verified subscriber's own tariff and roaming. None of these texts is in
# nlu/data (they are phrased differently on purpose), so they show how the model generalises.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("здравствуйте, а на каком тарифе я сейчас?", "tariff"),
        ("какой тариф стоит на моём номере", "tariff"),
        ("подскажите, пожалуйста, мой тариф и что в него входит", "tariff"),
        ("как посмотреть, какой у меня тарифный план", "tariff"),
        ("напомните название тарифа на моей симке", "tariff"),
        ("what tariff is my phone on", "tariff"),
        ("can you check my current tariff", "tariff"),
        ("what plan do I have with you", "tariff"),
        ("скажыце, які ў мяне тарыфны план", "tariff"),
        ("які тарыф у маёй сімкі", "tariff"),
        ("на якім тарыфе мой нумар", "tariff"),
        ("роуминг на номере включён или нет?", "roaming_status"),
        ("подскажите, включен ли у меня роуминг сейчас", "roaming_status"),
        ("проверьте, пожалуйста, статус роуминга", "roaming_status"),
        ("есть ли на моем номере подключенный роуминг", "roaming_status"),
        ("is roaming enabled for my sim card?", "roaming_status"),
        ("please check whether I have roaming activated", "roaming_status"),
        ("how can I find out if roaming is on", "roaming_status"),
        ("ці ўключаны роўмінг на маёй сімцы?", "roaming_status"),
        ("праверце статус роўмінгу на маім нумары", "roaming_status"),
        ("ці падключаны роўмінг на маім нумары", "roaming_status"),
        ("подключите, пожалуйста, международный роуминг на мой номер", "roaming_enable"),
        ("мне нужен роуминг на время отпуска, включите", "roaming_enable"),
        ("как включить роуминг через приложение?", "roaming_enable"),
        ("завтра улетаю, включите мне роуминг", "roaming_enable"),
        ("please turn roaming on for my number", "roaming_enable"),
        ("how to turn roaming on", "roaming_enable"),
        ("I'd like to activate international roaming", "roaming_enable"),
        ("падключыце, калі ласка, міжнародны роўмінг", "roaming_enable"),
        ("хачу ўключыць міжнародны роўмінг", "roaming_enable"),
        ("отключите, пожалуйста, роуминг на моем номере", "roaming_disable"),
        ("я вернулась из отпуска, роуминг больше не нужен, выключите", "roaming_disable"),
        ("как выключить роуминг через приложение?", "roaming_disable"),
        ("хочу деактивировать международный роуминг", "roaming_disable"),
        ("please disable roaming on my number", "roaming_disable"),
        ("how to turn roaming off", "roaming_disable"),
        ("I'd like to deactivate international roaming", "roaming_disable"),
        ("адключыце, калі ласка, міжнародны роўмінг", "roaming_disable"),
        ("хачу выключыць міжнародны роўмінг", "roaming_disable"),
    ],
)
async def test_the_model_understands_tariff_and_roaming_on_ones_number(
    client: NluClient, text: str, intent: str
) -> None:
    result = await client.parse(text)
    assert result.intent == intent, result


# The roaming family got three fine intents and "тариф" an intent of its own: what went to a
# roaming sub-intent (or elsewhere) before still goes there.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("роуминг", "roaming"),
        ("роуминг в Турции", "roaming"),
        ("как отключить передачу данных в роуминге на телефоне", "roaming"),  # a phone setting
        ("сколько стоит роуминг в Польше", "roaming_prices"),
        ("какой тариф в роуминге в Турции", "roaming_prices"),  # prices abroad, not one's tariff
        ("не работает интернет в роуминге", "roaming_trouble"),
        ("роуминг подключен, но звонки не проходят", "roaming_trouble"),
        ("баланс", "check_balance"),
        ("мой номер", "my_number"),
        ("какой у меня номер", "my_number"),
    ],
)
async def test_old_intents_keep_their_messages(client: NluClient, text: str, intent: str) -> None:
    result = await client.parse(text)
    assert result.intent == intent, result


@pytest.mark.parametrize("text", ["отключите подписки", "как отключить рассылки", "включи музыку"])
async def test_switching_something_else_is_not_a_roaming_action(
    client: NluClient, text: str
) -> None:
    result = await client.parse(text)
    assert result.family != "roaming", result


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
