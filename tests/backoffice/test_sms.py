"""The SMS gateways: the HTTP client against a fake gateway on loopback (the contract's exact
body, the token, retries only where a retry can help, timeouts, nothing personal in logs or
errors), and the development gateway (refused in production, the code in the log otherwise)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from backoffice.sms_dev import DevelopmentSms, DevelopmentSmsGateway
from backoffice.sms_http import HttpSmsGateway
from bot.backoffice_contract import BackofficeError, SmsGateway
from tests.backoffice.fake_sms import DROPPED, TOKEN, FakeSmsGateway
from tests.support.servers import free_port

PHONE = "+375291234567"
CODE = "483920"
TEXT = f"Abonent: ваш код {CODE}. Никому его не сообщайте."
# every way the number or the code could show up in a log line or a message
SECRETS = (PHONE, "375291234567", "291234567", "1234567", "+375 29 123-45-67", CODE, TOKEN)


@pytest.fixture
def fake() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as gateway:
        yield gateway


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def gateway(http: httpx.AsyncClient, fake: FakeSmsGateway, *, timeout: float = 5.0,
            retries: int = 1) -> HttpSmsGateway:
    return HttpSmsGateway(http, fake.url, fake.token, timeout=timeout, retries=retries, backoff=0)


def assert_nothing_personal(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into: {text}"


def error_chain(exc: BaseException) -> str:
    """The messages a traceback of ``exc`` would print, causes and contexts included."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


# -- HttpSmsGateway: the contract ---------------------------------------------------------------

async def test_posts_exactly_the_contract_body_with_the_bearer_token(
    http: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    await gateway(http, fake).send(PHONE, TEXT)

    [request] = fake.requests
    assert (request.method, request.path, request.status) == ("POST", fake.path, 200)
    assert json.loads(request.body) == {"to": PHONE, "text": TEXT}
    assert list(json.loads(request.body)) == ["to", "text"]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert [(m.to, m.text) for m in fake.messages()] == [(PHONE, TEXT)]


async def test_without_a_token_no_authorization_header_is_sent(http: httpx.AsyncClient) -> None:
    with FakeSmsGateway(token=None) as open_gateway:
        await HttpSmsGateway(http, open_gateway.url).send(PHONE, TEXT)
        await HttpSmsGateway(http, open_gateway.url, "").send(PHONE, TEXT)
        assert [r.status for r in open_gateway.requests] == [200, 200]
        assert all("authorization" not in r.headers for r in open_gateway.requests)


async def test_any_2xx_is_sent(http: httpx.AsyncClient, fake: FakeSmsGateway) -> None:
    fake.fail_next(202, body="accepted")  # not JSON, and no need to be
    await gateway(http, fake, retries=0).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [202]


async def test_a_wrong_token_is_an_error_at_once(http: httpx.AsyncClient,
                                                 fake: FakeSmsGateway) -> None:
    sms = HttpSmsGateway(http, fake.url, "not-the-token", retries=3, backoff=0)
    with pytest.raises(BackofficeError, match="HTTP 401.*SMS_GATEWAY_TOKEN"):
        await sms.send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [401]


# -- retries ----------------------------------------------------------------------------------

async def test_a_500_is_retried_then_sent(http: httpx.AsyncClient, fake: FakeSmsGateway) -> None:
    fake.fail_next(500)
    await gateway(http, fake, retries=1).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [500, 200]
    assert len(fake.messages(PHONE)) == 1


async def test_5xx_beyond_the_retries_is_an_error(http: httpx.AsyncClient,
                                                   fake: FakeSmsGateway) -> None:
    fake.fail_next(502, times=5, body="<html>Bad Gateway</html>")
    with pytest.raises(BackofficeError, match=r"HTTP 502 \(3 attempts\)"):
        await gateway(http, fake, retries=2).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [502, 502, 502]
    assert fake.messages() == []


async def test_a_400_is_not_retried(http: httpx.AsyncClient, fake: FakeSmsGateway) -> None:
    fake.fail_next(400)
    with pytest.raises(BackofficeError, match="refused the message: HTTP 400"):
        await gateway(http, fake, retries=3).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [400]


async def test_no_retries_means_one_attempt(http: httpx.AsyncClient, fake: FakeSmsGateway) -> None:
    fake.fail_next(503)
    with pytest.raises(BackofficeError, match=r"\(1 attempt\)"):
        await gateway(http, fake, retries=0).send(PHONE, TEXT)
    assert len(fake.requests) == 1


async def test_a_slow_gateway_times_out_and_is_retried(http: httpx.AsyncClient,
                                                       fake: FakeSmsGateway) -> None:
    fake.slow(5.0, times=1)
    started = time.monotonic()
    await gateway(http, fake, timeout=0.3, retries=1).send(PHONE, TEXT)
    assert time.monotonic() - started < 3.0
    assert len(fake.requests) == 2
    assert len(fake.messages()) == 1  # only the second attempt got through


async def test_a_gateway_that_never_answers_costs_at_most_the_timeouts(
    http: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    fake.slow(5.0)
    started = time.monotonic()
    with pytest.raises(BackofficeError, match=r"timed out after 0.3 s \(2 attempts\)"):
        await gateway(http, fake, timeout=0.3, retries=1).send(PHONE, TEXT)
    assert 0.6 <= time.monotonic() - started < 3.0
    assert len(fake.requests) == 2


async def test_a_dropped_connection_is_retried(http: httpx.AsyncClient,
                                               fake: FakeSmsGateway) -> None:
    fake.drop_next()
    await gateway(http, fake, retries=1).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [DROPPED, 200]


async def test_connections_dropped_beyond_the_retries_are_an_error(
    http: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    fake.drop_next(2)
    with pytest.raises(BackofficeError, match=r"no answer.*\(2 attempts\)"):
        await gateway(http, fake, retries=1).send(PHONE, TEXT)
    assert [r.status for r in fake.requests] == [DROPPED, DROPPED]


async def test_nobody_listening_is_an_error(http: httpx.AsyncClient) -> None:
    sms = HttpSmsGateway(http, f"http://127.0.0.1:{free_port()}/sms", TOKEN, retries=1,
                         backoff=0)
    with pytest.raises(BackofficeError, match=r"SMS gateway at 127.0.0.1 .*\(2 attempts\)"):
        await sms.send(PHONE, TEXT)


# -- refused before any request ---------------------------------------------------------------

@pytest.mark.parametrize("to", ["375291234567", "+375 29 123-45-67", "80291234567", "",
                                "+375291234567\n", "+0291234567"])
async def test_the_number_must_be_e164(http: httpx.AsyncClient, fake: FakeSmsGateway,
                                       to: str) -> None:
    with pytest.raises(ValueError, match="E.164") as caught:
        await gateway(http, fake).send(to, TEXT)
    assert "1234567" not in str(caught.value)
    assert fake.requests == []


async def test_the_text_must_not_be_empty(http: httpx.AsyncClient, fake: FakeSmsGateway) -> None:
    for text in ("", "   "):
        with pytest.raises(ValueError, match="non-empty"):
            await gateway(http, fake).send(PHONE, text)
    assert fake.requests == []


@pytest.mark.parametrize("url", ["", "sms.example.com/send", "ftp://sms.example.com/", "http://"])
def test_the_url_must_be_http(http: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        HttpSmsGateway(http, url)


def test_repr_hides_the_token(http: httpx.AsyncClient) -> None:
    sms = HttpSmsGateway(http, "https://sms.example.com/send?key=s3cr3t", TOKEN)
    assert TOKEN not in repr(sms) and "s3cr3t" not in repr(sms)
    assert "sms.example.com" in repr(sms)


# -- privacy ----------------------------------------------------------------------------------

async def test_nothing_personal_in_logs_or_errors(
    http: httpx.AsyncClient, fake: FakeSmsGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms = gateway(http, fake, timeout=0.3, retries=1)
    errors: list[BackofficeError] = []

    await sms.send(PHONE, TEXT)  # sent
    fake.fail_next(500)
    await sms.send(PHONE, TEXT)  # retried, then sent
    for fault in ("400", "500", "timeout", "drop"):
        if fault == "timeout":
            fake.slow(5.0, times=2)
        elif fault == "drop":
            fake.drop_next(2)
        else:
            fake.fail_next(int(fault), times=2)
        with pytest.raises(BackofficeError) as caught:
            await sms.send(PHONE, TEXT)
        errors.append(caught.value)
    wrong_token = HttpSmsGateway(http, fake.url, "not-the-token-" + TOKEN)
    with pytest.raises(BackofficeError) as caught:
        await wrong_token.send(PHONE, TEXT)
    errors.append(caught.value)

    assert len(fake.messages()) == 2, "the scenarios above did run"
    for error in errors:
        assert_nothing_personal(error_chain(error))
    assert_nothing_personal(caplog.text)
    for record in caplog.records:
        assert_nothing_personal(record.getMessage())
    # httpx's request line is there, and it carries the URL only (the body is never logged)
    requests = [r.getMessage() for r in caplog.records
                if r.name == "httpx" and r.levelno == logging.INFO]
    assert requests and all(line.startswith(f"HTTP Request: POST {fake.url} ")
                            for line in requests)
    retries = [r for r in caplog.records if r.name == "backoffice.sms_http"]
    assert retries and all(r.levelno == logging.WARNING for r in retries)
    assert any("retrying (1 of 1)" in r.getMessage() for r in retries)


# -- the fake itself: strict enough that the tests above can fail ------------------------------

@pytest.mark.parametrize(("body", "status"), [
    ({"to": PHONE, "text": TEXT}, 200),
    ({"to": PHONE, "text": TEXT, "from": "Abonent"}, 400),
    ({"phone": PHONE, "text": TEXT}, 400),
    ({"to": "375291234567", "text": TEXT}, 400),
    ({"to": PHONE, "text": ""}, 400),
    ({"to": PHONE}, 400),
])
async def test_the_fake_checks_the_body(http: httpx.AsyncClient, fake: FakeSmsGateway,
                                        body: dict[str, str], status: int) -> None:
    answer = await http.post(fake.url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == status


async def test_the_fake_checks_token_path_and_type(http: httpx.AsyncClient,
                                                   fake: FakeSmsGateway) -> None:
    body = {"to": PHONE, "text": TEXT}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await http.post(fake.url, json=body)).status_code == 401
    assert (await http.post(fake.url, json=body, headers={"Authorization": TOKEN})).status_code \
        == 401
    assert (await http.post(fake.base_url + "/other", json=body, headers=auth)).status_code == 404
    assert (await http.get(fake.url, headers=auth)).status_code == 405
    assert (await http.post(fake.url, content=json.dumps(body), headers=auth)).status_code == 415
    assert fake.messages() == []


# -- DevelopmentSmsGateway ----------------------------------------------------------------------

@pytest.mark.parametrize("environment", ["production", "PRODUCTION", "Production", " production\n"])
def test_the_development_gateway_is_refused_in_production(environment: str) -> None:
    with pytest.raises(ValueError, match="refused in production: set SMS_GATEWAY_URL"):
        DevelopmentSmsGateway(environment=environment)


@pytest.mark.parametrize("environment", ["development", "test", "staging", ""])
async def test_in_development_the_code_goes_to_the_log_with_the_number_masked(
    environment: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms: SmsGateway = DevelopmentSmsGateway(environment=environment)
    await sms.send(PHONE, TEXT)

    [record] = caplog.records
    assert (record.name, record.levelno) == ("abonent.sms.dev", logging.WARNING)
    assert record.getMessage() == f"DEVELOPMENT SMS (not sent) to +375 29 ***-**-67: {TEXT}"
    assert CODE in caplog.text  # by design, and only here
    for number in (PHONE, "375291234567", "291234567", "1234567"):
        assert number not in caplog.text


async def test_the_development_gateway_remembers_the_latest(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="abonent.sms.dev")
    sms = DevelopmentSmsGateway(environment="development", keep=3)
    assert sms.sent == []
    for n in range(5):
        await sms.send(f"+37529123456{n}", f"code {n}")
    assert [(m.to, m.text) for m in sms.sent] == [
        ("+375291234562", "code 2"), ("+375291234563", "code 3"), ("+375291234564", "code 4")]
    assert all(isinstance(m, DevelopmentSms) and m.at.tzinfo is not None for m in sms.sent)
    assert len([r for r in caplog.records if r.name == "abonent.sms.dev"]) == 5


async def test_a_multi_line_text_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="abonent.sms.dev")
    sms = DevelopmentSmsGateway(environment="development")
    await sms.send(PHONE, "Код 123456\nERROR forged line\r\nend")
    [record] = caplog.records
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert record.getMessage().endswith(": Код 123456 ERROR forged line end")
    assert sms.sent[0].text == "Код 123456\nERROR forged line\r\nend"  # kept as sent


async def test_the_development_gateway_checks_like_the_real_one(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms = DevelopmentSmsGateway(environment="development")
    with pytest.raises(ValueError, match="E.164"):
        await sms.send("80291234567", TEXT)
    with pytest.raises(ValueError, match="non-empty"):
        await sms.send(PHONE, " ")
    assert sms.sent == [] and caplog.records == []
    with pytest.raises(ValueError, match="keep"):
        DevelopmentSmsGateway(environment="development", keep=0)
