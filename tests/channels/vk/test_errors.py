"""vk-api's errors -> the channel error tree: what the outbox retries, gives up on, or marks
blocked, and that the token never reaches the message that gets logged."""

from __future__ import annotations

import pytest
import requests
import vk_api

from bot.channel import (
    ChannelError,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from channels.vk.errors import channel_error

TOKEN = "vk1.a.SeCrEt-community-token_0123456789abcdef"
VALUES = {"access_token": TOKEN, "v": "5.199", "peer_id": 500000123,
          "message": "Ваш баланс 12 BYN", "random_id": 12345}


def api_error(code: int, message: str = "Something went wrong") -> vk_api.ApiError:
    """What vk-api raises for an ``error`` answer; ``values`` holds the call's parameters,
    the token among them."""
    return vk_api.ApiError(vk=None, method="messages.send", values=dict(VALUES), raw=False,
                           error={"error_code": code, "error_msg": message,
                                  "request_params": [{"key": "method", "value": "messages.send"}]})


def http_error(status: int) -> vk_api.ApiHttpError:
    response = requests.Response()
    response.status_code = status
    response._content = b"<html><body><h1>Internal Server Error</h1></body></html>"
    response.url = f"https://api.vk.ru/method/messages.send?access_token={TOKEN}"
    return vk_api.ApiHttpError(vk=None, method="messages.send", values=dict(VALUES), raw=False,
                               response=response)


def translated(exc: BaseException, *, secrets: tuple[str, ...] = (TOKEN,)) -> ChannelError:
    error = channel_error(exc, secrets=secrets)
    assert error is not None
    assert TOKEN not in str(error), "the token reached a message that gets logged"
    return error


@pytest.mark.parametrize(("code", "message"), [
    (6, "Too many requests per second"), (9, "Flood control"), (10, "Internal server error"),
    (1, "Unknown error occurred"), (5, "User authorization failed: invalid access_token"),
])
def test_rate_server_and_token_errors_are_retried_after_a_pause(code: int, message: str
                                                                ) -> None:
    error = translated(api_error(code, message))
    assert type(error) is TemporaryChannelError
    assert error.retry_after is not None and error.retry_after > 0
    assert f"[{code}]" in str(error) and message in str(error)


def test_flood_control_pauses_longer_than_too_many_requests() -> None:
    rate = translated(api_error(6))
    flood = translated(api_error(9))
    assert isinstance(rate, TemporaryChannelError) and isinstance(flood, TemporaryChannelError)
    assert rate.retry_after is not None and flood.retry_after is not None
    assert flood.retry_after > rate.retry_after


@pytest.mark.parametrize(("code", "message"), [
    (901, "Can't send messages for users without permission"),
    (902, "Can't send messages to this user due to their privacy settings"),
])
def test_a_subscriber_who_refuses_messages_is_gone(code: int, message: str) -> None:
    error = translated(api_error(code, message))
    assert isinstance(error, RecipientGoneError)
    assert message in str(error)


@pytest.mark.parametrize(("code", "message"), [
    (100, "One of the parameters specified was missing or invalid"),
    (911, "Keyboard format is invalid"), (914, "Message is too long"),
    (7, "Permission to perform this action is denied"), (15, "Access denied"),
    (113, "Invalid user id"),
])
def test_other_vk_errors_are_permanent_with_vks_message(code: int, message: str) -> None:
    error = translated(api_error(code, message))
    assert type(error) is PermanentChannelError
    assert f"[{code}]" in str(error) and message in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_answer_is_retried(status: int) -> None:
    error = translated(http_error(status))
    assert isinstance(error, TemporaryChannelError)
    assert str(status) in str(error)


@pytest.mark.parametrize("exc", [
    requests.ConnectionError("Connection refused"),
    requests.Timeout("timed out"),
    requests.ReadTimeout("HTTPSConnectionPool(host='api.vk.ru', port=443): Read timed out."),
    requests.ConnectTimeout("connect timed out"),
    requests.exceptions.ChunkedEncodingError("Connection broken"),
    ValueError("Expecting value: line 1 column 1 (char 0)"),  # an answer that is not JSON
])
def test_network_errors_and_unreadable_answers_are_retried(exc: Exception) -> None:
    assert isinstance(translated(exc), TemporaryChannelError)


@pytest.mark.parametrize("exc", [RuntimeError("bug"), KeyError("response"), TypeError("x"),
                                 AttributeError("x")])
def test_what_is_not_a_vk_failure_is_left_to_re_raise(exc: Exception) -> None:
    assert channel_error(exc, secrets=(TOKEN,)) is None


def test_the_token_in_the_calls_parameters_never_reaches_the_message() -> None:
    for exc in (api_error(100), api_error(6), http_error(500)):
        error = channel_error(exc)  # even when the caller passes no secrets
        assert error is not None and TOKEN not in str(error)


def test_secrets_in_a_quoted_url_are_scrubbed() -> None:
    exc = requests.ConnectionError(
        "HTTPSConnectionPool(host='api.vk.ru', port=443): Max retries exceeded with url: "
        f"/method/messages.send?access_token={TOKEN}&v=5.199 (Caused by NewConnectionError)")
    error = translated(exc)
    assert "***" in str(error) and "/method/messages.send" in str(error)
    other = "CallbackSecret42"
    both = channel_error(requests.Timeout(f"{TOKEN} then {other}"), secrets=(TOKEN, other, ""))
    assert both is not None and TOKEN not in str(both) and other not in str(both)


def test_a_long_message_is_cut_after_the_secrets_are_scrubbed() -> None:
    """Cut first and the start of the token, straddling the cut, would stay."""
    exc = requests.ConnectionError("x" * 480 + TOKEN + " and more")
    error = translated(exc)
    assert len(str(error)) <= 500
    assert TOKEN[:12] not in str(error)
