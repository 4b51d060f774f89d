"""``abonent telegram set-webhook | delete-webhook | info`` against the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import get_settings
from tests.channels.telegram.fake_bot_api import FakeBotApi

HOOK = "https://bot.example.test/telegram/webhook"


@pytest.fixture
def env(api: FakeBotApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name, value in {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.url,
                        "TELEGRAM_WEBHOOK_URL": HOOK,
                        "TELEGRAM_WEBHOOK_SECRET": "cli-secret_1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_set_webhook_then_delete_it(
    api: FakeBotApi, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["telegram", "set-webhook", "--drop-pending-updates"]) == 0
    assert api.webhook is not None
    assert api.webhook["url"] == HOOK and api.webhook["secret_token"] == "cli-secret_1"
    assert api.webhook["allowed_updates"] == ["message", "callback_query"]
    assert api.webhook["drop_pending_updates"] is True
    assert main(["telegram", "info"]) == 0
    assert HOOK in capsys.readouterr().out
    assert main(["telegram", "delete-webhook"]) == 0
    assert api.webhook is None


def test_set_webhook_needs_the_url_and_secret(
    api: FakeBotApi, env: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    get_settings.cache_clear()
    assert main(["telegram", "set-webhook"]) == 1
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err
    assert api.calls("setWebhook") == []
