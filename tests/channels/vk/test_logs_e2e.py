"""Nothing secret or personal reaches a log: the community token, the long-poll key, the
Callback secret, the subscriber's text and name — even at DEBUG, through a whole exchange with
faults on the way."""

from __future__ import annotations

import logging

import pytest

from tests.channels.vk.events import new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi
from tests.support.vk import CALLBACK_SECRET, VkApp

pytestmark = pytest.mark.rasa


async def test_the_token_key_text_and_name_stay_out_of_the_log(
    long_poll_app: VkApp, caplog: pytest.LogCaptureFixture
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Секретина", "Приватная")
    caplog.set_level(logging.DEBUG)
    vk.fail_next("messages.send", error_code=10)  # an error answer quotes VK's parameters
    vk.expire_key()  # a new long-poll key is fetched and used in the URL
    vk.enqueue(anna.text("мой баланс 12345 рублей, почему так мало"))
    await vk.wait_sent(anna.user_id, timeout=30)
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="everything delivered")

    keys = {poll.key for poll in vk.polls if poll.key}
    assert keys, "the app polled with a key"
    text = caplog.text
    assert "vk: long poll" in text or "vk:" in text, "the channel did log something"
    for secret in (vk.token, *keys, "12345 рублей", "Секретина", "Приватная"):
        assert secret not in text, f"{secret[:6]}… reached the log"


async def test_the_callback_secret_stays_out_of_the_log(
    callback_app: VkApp, caplog: pytest.LogCaptureFixture, vk: FakeVkApi
) -> None:
    anna = new_vk_user()
    caplog.set_level(logging.DEBUG)
    assert (await callback_app.post_event(anna.text("привет"), secret="wrong-secret")
            ).status_code == 403
    assert (await callback_app.post_event(anna.text("привет"))).text == "ok"
    await vk.wait_sent(anna.user_id, timeout=30)
    assert CALLBACK_SECRET not in caplog.text
    assert vk.token not in caplog.text
