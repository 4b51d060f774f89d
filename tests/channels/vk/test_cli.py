"""``abonent vk info`` against the fake VK API: the community, the mode, and what VK says about
the long poll or the callback server; malformed settings name the variable, never the token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import get_settings
from tests.channels.vk.fake_vk_api import FakeVkApi

CONFIRMATION = "a1b2c3d4"
SECRET = "CliSecret42"


@pytest.fixture
def env(vk: FakeVkApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in ("VK_CALLBACK_CONFIRMATION", "VK_CALLBACK_SECRET", "VK_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"VK_GROUP_TOKEN": vk.token, "VK_GROUP_ID": str(vk.group_id),
                        "VK_API_BASE": vk.url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def callback_mode(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VK_CALLBACK_CONFIRMATION", CONFIRMATION)
    monkeypatch.setenv("VK_CALLBACK_SECRET", SECRET)
    get_settings.cache_clear()


def info(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
         token: str) -> tuple[int, str, str]:
    with caplog.at_level(logging.DEBUG):
        code = main(["vk", "info"])
    out, err = capsys.readouterr()
    assert token not in out + err + caplog.text, "the token never shows"
    return code, out, err


def test_long_poll_that_is_on_is_fine(
    vk: FakeVkApi, env: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 0
    assert f"community: Абонент — поддержка (id {vk.group_id}, vk.com/abonent_support)" in out
    assert "configured mode: long poll; API version 5.199" in out
    assert "Bots Long Poll: on; API version 5.199; message_new on" in out
    assert "to do" not in out
    assert [c.method for c in vk.calls()] == ["groups.getById", "groups.getLongPollSettings"]
    assert vk.calls("groups.getLongPollSettings")[0].params["group_id"] == str(vk.group_id)


def test_long_poll_that_is_off_says_what_to_do(
    vk: FakeVkApi, env: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    vk.long_poll_settings = {"is_enabled": False, "api_version": "5.131",
                             "events": {"message_new": 0}}
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 1
    assert "Bots Long Poll: OFF; API version 5.131; message_new OFF" in out
    todo = [line for line in out.splitlines() if line.startswith("to do:")]
    assert len(todo) == 3
    assert "turn Bots Long Poll on" in todo[0]
    assert "message_new" in todo[1]
    assert "set the Long Poll API version to 5.199" in todo[2]


def test_long_poll_without_message_new_is_not_fine(
    vk: FakeVkApi, env: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    vk.long_poll_settings["events"]["message_new"] = 0
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 1
    assert "message_new OFF" in out and "to do: tick the event" in out


def test_the_configured_api_version_is_compared_with_the_long_polls(
    vk: FakeVkApi, env: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("VK_API_VERSION", "5.150")
    get_settings.cache_clear()
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 1
    assert "configured mode: long poll; API version 5.150" in out
    assert "to do: set the Long Poll API version to 5.150" in out
    assert {c.params["v"] for c in vk.calls()} == {"5.150"}, "the version is always sent"


def test_callback_mode_shows_the_server_and_its_status(
    vk: FakeVkApi, callback_mode: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 0
    assert "configured mode: callback" in out
    assert f"callback server: {vk.callback_url} (status: ok)" in out
    assert vk.calls("groups.getLongPollSettings") == []
    assert SECRET not in out and CONFIRMATION not in out


@pytest.mark.parametrize("status", ["failed", "wait", "unconfigured"])
def test_a_callback_server_that_is_not_ok_is_not_fine(
    vk: FakeVkApi, callback_mode: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, status: str,
) -> None:
    vk.callback_status = status
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 1
    assert f"(status: {status})" in out


def test_callback_mode_without_a_server_says_where_to_add_it(
    vk: FakeVkApi, callback_mode: None, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    vk.callback_url = ""
    code, out, _ = info(capsys, caplog, vk.token)
    assert code == 1
    assert "callback servers: none" in out and "/vk/callback" in out


def test_a_token_vk_refuses_is_an_error_without_the_token(
    vk: FakeVkApi, env: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "vk1.a.another-community-token-refused"
    monkeypatch.setenv("VK_GROUP_TOKEN", wrong)
    get_settings.cache_clear()
    code, _, err = info(capsys, caplog, wrong)
    assert code == 1
    assert "[5]" in err and "authorization failed" in err


@pytest.mark.parametrize(("variable", "value"), [
    ("VK_GROUP_ID", "abonent_support"),
    ("VK_GROUP_ID", "0"),
    ("VK_GROUP_ID", ""),
    ("VK_GROUP_TOKEN", "short"),
    ("VK_GROUP_TOKEN", "vk1.a.token with spaces inside it"),
    ("VK_GROUP_TOKEN", ""),
    ("VK_API_VERSION", "5.80"),
    ("VK_API_VERSION", "latest"),
    ("VK_API_BASE", "http://api.vk.example.test"),
    ("VK_API_BASE", "ftp://127.0.0.1"),
    ("VK_CALLBACK_SECRET", "only-the-secret"),
    ("VK_CALLBACK_CONFIRMATION", "no secret either"),
])
def test_a_malformed_setting_names_the_variable_without_the_token(
    vk: FakeVkApi, env: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    variable: str, value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    code, out, err = info(capsys, caplog, vk.token)
    assert code == 1
    assert variable in err
    assert out == ""
    if value and variable in ("VK_GROUP_TOKEN", "VK_CALLBACK_SECRET", "VK_CALLBACK_CONFIRMATION"):
        assert value not in err, "a secret is named, not shown"
    assert vk.calls() == [], "nothing is asked with settings that are wrong"
