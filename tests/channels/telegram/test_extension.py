"""What ``build_telegram`` plugs into the app in each mode, and the start-up webhook check."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pydantic import SecretStr

from channels.telegram import TelegramExtension, build_telegram
from channels.telegram.options import WEBHOOK_PATH
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support.app import base_settings

HOOK = "https://bot.example.test/telegram/webhook"


def extension(api: FakeBotApi, **overrides: Any) -> TelegramExtension:
    settings = base_settings(telegram_bot_token=SecretStr(api.token),
                             telegram_api_base=api.url, **overrides)
    # the conversations and the database are only handed on; nothing here touches them
    return build_telegram(settings=settings, conversations=None, db=None)  # type: ignore[arg-type]


def webhook_extension(api: FakeBotApi) -> TelegramExtension:
    return extension(api, telegram_webhook_url=HOOK,
                  telegram_webhook_secret=SecretStr("extension-secret"))


async def test_polling_mode_runs_a_poller_and_mounts_no_route(api: FakeBotApi) -> None:
    built = extension(api)
    assert built.poller is not None and built.routers() == []
    assert built.poller.run in built.background()
    assert built.channel.name == "telegram"
    await built.bot.session.close()


async def test_webhook_mode_mounts_the_route_and_does_not_poll(api: FakeBotApi) -> None:
    built = webhook_extension(api)
    assert built.poller is None
    [router] = built.routers()
    assert [getattr(route, "path", None) for route in router.routes] == [WEBHOOK_PATH]
    await built.bot.session.close()


async def lifecycle_logs(built: TelegramExtension, caplog: pytest.LogCaptureFixture,
                         api: FakeBotApi) -> str:
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="channels.telegram.extension"):
        task = asyncio.create_task(built.lifecycle(stop))
        await api.wait_for(lambda: api.calls("getWebhookInfo"), what="the webhook check")
        stop.set()
        await asyncio.wait_for(task, 5)
    return caplog.text


async def test_webhook_mode_warns_when_telegram_posts_elsewhere(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    text = await lifecycle_logs(webhook_extension(api), caplog, api)
    assert "abonent telegram set-webhook" in text


async def test_no_warning_when_the_webhook_is_set(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    built = webhook_extension(api)
    await built.bot.set_webhook(url=HOOK, secret_token="extension-secret")
    text = await lifecycle_logs(built, caplog, api)
    assert "webhook mode" in text and "set-webhook" not in text
