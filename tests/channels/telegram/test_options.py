"""Which mode the settings choose, and the clear errors for incomplete ones."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from channels.telegram import TelegramConfigError, TelegramOptions
from tests.support.app import base_settings

TOKEN = "123456:ABC-def_ghi"


def options(**overrides: object) -> TelegramOptions:
    values: dict[str, object] = {"telegram_bot_token": SecretStr(TOKEN)}
    values.update(overrides)
    return TelegramOptions.from_settings(base_settings(**values))


def test_polling_is_the_default() -> None:
    chosen = options()
    assert chosen.mode == "polling" and chosen.token == TOKEN and chosen.api_base is None


def test_a_webhook_url_with_a_secret_is_webhook_mode() -> None:
    chosen = options(telegram_webhook_url="https://bot.example.test/telegram/webhook",
                     telegram_webhook_secret=SecretStr("abc_DEF-123"),
                     telegram_api_base="http://127.0.0.1:8081/")
    assert chosen.mode == "webhook" and chosen.webhook_secret == "abc_DEF-123"
    assert chosen.api_base == "http://127.0.0.1:8081"


def test_secrets_stay_out_of_the_repr() -> None:
    chosen = options(telegram_webhook_url="https://x.test/telegram/webhook",
                     telegram_webhook_secret=SecretStr("abc_DEF-123"))
    assert TOKEN not in repr(chosen) and "abc_DEF-123" not in repr(chosen)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"telegram_bot_token": SecretStr("not a token")}, "TELEGRAM_BOT_TOKEN"),
    ({"telegram_webhook_url": "https://x.test/telegram/webhook"}, "TELEGRAM_WEBHOOK_SECRET"),
    ({"telegram_webhook_url": "https://x.test/telegram/webhook",
      "telegram_webhook_secret": SecretStr("no spaces allowed")}, "1-256 characters"),
])
def test_incomplete_settings_say_which_variable(overrides: dict[str, object], message: str
                                                ) -> None:
    with pytest.raises(TelegramConfigError, match=message):
        options(**overrides)
