"""VkChannel.send through the real vk-api client against the fake VK API: what goes out (text,
keyboard, ``random_id``), and how every kind of failure is reported to the outbox sender."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.channel import (
    Channel,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from bot.messages import DELIVERY_ID, Button, OutboundMessage
from channels.vk import VkChannel
from channels.vk.client import VkClient
from channels.vk.rendering import random_id
from tests.channels.vk.fake_vk_api import FakeVkApi

PEER = 700_000_001
ROW = 41  # the outbox row a message comes from
# three parts of at most 4000 characters, cut at line breaks
LONG_TEXT = "\n".join(f"{i:03d} " + " ".join(["слово"] * 30) for i in range(60))


@pytest.fixture
def channel(client: VkClient, vk: FakeVkApi) -> VkChannel:
    return VkChannel(client, secrets=(vk.token,))


def from_row(text: str, row: int = ROW, **fields: Any) -> OutboundMessage:
    """A message as the outbox sender hands it over: with its row's id."""
    return OutboundMessage(text=text, metadata={DELIVERY_ID: row}, **fields)


def sends(vk: FakeVkApi) -> list[dict[str, str]]:
    return [call.params for call in vk.calls("messages.send")]


def test_it_is_a_channel_with_vks_rate(channel: VkChannel) -> None:
    assert isinstance(channel, Channel)
    assert channel.name == "vk"
    assert channel.per_address_interval == 0.0 and channel.global_rate == 20


async def test_text_goes_as_it_is_with_an_inline_keyboard_of_text_buttons(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    await channel.send(str(PEER), from_row(
        "Баланс: *100# <звонок> & SMS https://example.test",
        buttons=(Button("Номера поддержки", "/support_contacts"),
                 Button("Тарифы", '/tariffs{"kind": "mobile"}'))))
    [sent] = vk.sent(PEER)
    assert sent.text == "Баланс: *100# <звонок> & SMS https://example.test"
    assert sent.random_id == random_id(ROW, 0, sent.text) != 0
    [params] = sends(vk)
    assert params["dont_parse_links"] == "1"
    assert params["v"] == "5.199"
    assert sent.keyboard is not None and sent.keyboard["inline"] is True
    actions = [[button["action"] for button in row] for row in sent.keyboard["buttons"]]
    assert [[(a["type"], a["label"], json.loads(a["payload"])) for a in row] for row in actions] \
        == [[("text", "Номера поддержки", {"p": "/support_contacts"})],
            [("text", "Тарифы", {"p": '/tariffs{"kind": "mobile"}'})]]


async def test_a_long_reply_goes_in_parts_each_with_its_own_random_id(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    await channel.send(str(PEER), from_row(LONG_TEXT, buttons=(Button("Ок", "/affirm"),)))
    sent = vk.sent(PEER)
    assert len(sent) == 3
    assert all(len(s.text) <= 4096 for s in sent)
    assert "\n".join(s.text for s in sent) == LONG_TEXT
    assert [s.random_id for s in sent] == [random_id(ROW, n, s.text) for n, s in enumerate(sent)]
    assert len({s.random_id for s in sent}) == 3
    assert [s.keyboard is not None for s in sent] == [False, False, True], "buttons go last"


class FailingSecondPart(VkClient):
    """The real client, but VK answers error 10 to the second ``messages.send`` it makes."""

    def __init__(self, vk: FakeVkApi) -> None:
        super().__init__(token=vk.token, api_version="5.199", api_base=vk.url)
        self._vk = vk
        self._sends = 0

    async def call(self, method: str, **params: Any) -> Any:
        if method == "messages.send":
            self._sends += 1
            if self._sends == 2:
                self._vk.fail_next("messages.send", error_code=10)
        return await super().call(method, **params)


async def test_a_reply_retried_after_a_later_part_failed_shows_each_part_once(
    vk: FakeVkApi,
) -> None:
    """The first part was delivered, the second met an error: the outbox retries the whole
    reply, and VK recognises the first part by its random_id."""
    flaky = FailingSecondPart(vk)
    try:
        channel = VkChannel(flaky)
        with pytest.raises(TemporaryChannelError):
            await channel.send(str(PEER), from_row(LONG_TEXT))
        assert len(vk.sent(PEER)) == 1
        await channel.send(str(PEER), from_row(LONG_TEXT))
    finally:
        flaky.close()
    parts = vk.sent(PEER)
    assert "\n".join(s.text for s in parts) == LONG_TEXT, "each part delivered once, in order"
    first, second, third = (str(random_id(ROW, n, part.text)) for n, part in enumerate(parts))
    assert [c.params["random_id"] for c in vk.calls("messages.send")] == [
        first, second, first, second, third]
    assert [c.error for c in vk.calls("messages.send")] == [None, 10, None, None, None]


async def test_a_send_that_timed_out_but_was_delivered_is_not_shown_twice(
    vk: FakeVkApi,
) -> None:
    """VK took the call but answered after our timeout: the retry has the same random_id."""
    impatient = VkClient(token=vk.token, api_version="5.199", api_base=vk.url,
                         timeout=(5.0, 0.3))
    try:
        channel = VkChannel(impatient, secrets=(vk.token,))
        vk.slow("messages.send", 0.8)
        with pytest.raises(TemporaryChannelError, match="Timeout"):
            await channel.send(str(PEER), from_row("Ваш баланс 12,50 BYN"))
        await vk.wait_sent(PEER)  # VK did deliver it after all
        vk.slow("messages.send", 0)
        await channel.send(str(PEER), from_row("Ваш баланс 12,50 BYN"))
    finally:
        impatient.close()
    [sent] = vk.sent(PEER)
    assert [c.params["random_id"] for c in vk.calls("messages.send")] == [
        str(sent.random_id)] * 2


async def test_without_a_delivery_id_vk_is_asked_not_to_deduplicate(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    await channel.send(str(PEER), OutboundMessage(text="раз"))
    await channel.send(str(PEER), OutboundMessage(text="раз"))
    assert [(s.text, s.random_id) for s in vk.sent(PEER)] == [("раз", 0), ("раз", 0)]


def test_random_ids_are_positive_int32_and_stable() -> None:
    ids = {random_id(row, part) for row in range(1, 2000) for part in range(3)}
    assert all(0 < i < 2**31 for i in ids)
    assert len(ids) == 1999 * 3, "no collisions among nearby rows and parts"
    assert random_id(ROW, 0) == random_id(ROW, 0) != random_id(str(ROW), 1)


async def test_ten_buttons_and_long_labels_and_payloads_stay_within_vks_rules(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    long_payload = '/roaming_prices{"country": "' + "Соединённые Штаты Америки " * 8 + '"}'
    buttons = tuple(Button(f"Вариант {n} " + "очень длинная подпись " * 3, f"/choice_{n}")
                    for n in range(11)) + (Button("США", long_payload),)
    await channel.send(str(PEER), from_row("Выберите", buttons=buttons))
    assert [c.error for c in vk.calls("messages.send")] == [None], "VK accepted the keyboard"
    [sent] = vk.sent(PEER)
    assert sent.keyboard is not None
    rows = sent.keyboard["buttons"]
    assert len(rows) <= 6 and all(len(row) <= 5 for row in rows)
    labels = [b["action"]["label"] for row in rows for b in row]
    assert len(labels) == 10 and all(1 <= len(label) <= 40 for label in labels)
    assert labels[0].startswith("Вариант 0") and labels[0].endswith("…")


async def test_a_payload_longer_than_vk_allows_goes_hashed(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    long_payload = '/roaming_prices{"country": "' + "Соединённые Штаты Америки " * 8 + '"}'
    await channel.send(str(PEER), from_row("Цены", buttons=(Button("США", long_payload),)))
    [sent] = vk.sent(PEER)
    assert sent.keyboard is not None
    payload = sent.keyboard["buttons"][0][0]["action"]["payload"]
    assert len(payload.encode()) <= 255
    assert json.loads(payload)["p"].startswith("#")


async def test_a_phone_request_is_not_shown_as_a_button(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    await channel.send(str(PEER), from_row("Подтвердите номер", request_phone=True))
    [sent] = vk.sent(PEER)
    assert sent.text == "Подтвердите номер" and sent.keyboard is None
    assert "keyboard" not in sends(vk)[0]


@pytest.mark.parametrize(("code", "pause"), [(6, 1.0), (9, 30.0), (10, 5.0), (1, 5.0),
                                             (5, 60.0)])
async def test_rate_server_and_token_errors_are_temporary_with_a_pause(
    vk: FakeVkApi, channel: VkChannel, code: int, pause: float
) -> None:
    vk.fail_next("messages.send", error_code=code)
    with pytest.raises(TemporaryChannelError, match=f"\\[{code}\\]") as caught:
        await channel.send(str(PEER), from_row("привет"))
    assert caught.value.retry_after == pause
    assert vk.sent(PEER) == []


@pytest.mark.parametrize(("status", "body"), [(500, None), (502, None),
                                              (200, "<html>not json</html>")])
async def test_http_failures_and_unreadable_answers_are_temporary(
    vk: FakeVkApi, channel: VkChannel, status: int, body: str | None
) -> None:
    vk.fail_next("messages.send", http_status=status, body=body)
    with pytest.raises(TemporaryChannelError) as caught:
        await channel.send(str(PEER), from_row("привет"))
    assert caught.value.retry_after is None


async def test_an_unreachable_vk_is_temporary(vk: FakeVkApi) -> None:
    nowhere = VkClient(token=vk.token, api_version="5.199", api_base="http://127.0.0.1:9",
                       timeout=(1.0, 1.0))
    try:
        with pytest.raises(TemporaryChannelError):
            await VkChannel(nowhere).send(str(PEER), from_row("привет"))
    finally:
        nowhere.close()


@pytest.mark.parametrize("code", [901, 902])
async def test_a_user_who_does_not_accept_messages_is_gone(
    vk: FakeVkApi, channel: VkChannel, code: int
) -> None:
    vk.fail_next("messages.send", error_code=code)
    with pytest.raises(RecipientGoneError, match=str(code)):
        await channel.send(str(PEER), from_row("привет"))


async def test_a_blocked_peer_is_gone(vk: FakeVkApi, channel: VkChannel) -> None:
    vk.block(PEER)
    with pytest.raises(RecipientGoneError, match="without permission"):
        await channel.send(str(PEER), from_row("привет"))


@pytest.mark.parametrize(("code", "reason"), [(100, "invalid"), (911, "Keyboard"),
                                              (914, "too long"), (15, "Access denied")])
async def test_other_vk_errors_are_permanent_with_vks_message(
    vk: FakeVkApi, channel: VkChannel, code: int, reason: str
) -> None:
    vk.fail_next("messages.send", error_code=code)
    with pytest.raises(PermanentChannelError, match=reason) as caught:
        await channel.send(str(PEER), from_row("привет"))
    assert not isinstance(caught.value, RecipientGoneError)


async def test_the_token_never_reaches_an_error_message(
    vk: FakeVkApi, channel: VkChannel
) -> None:
    vk.fail_next("messages.send", error_code=100,
                 error_msg=f"invalid access_token {vk.token} in the request")
    with pytest.raises(PermanentChannelError) as caught:
        await channel.send(str(PEER), from_row("привет"))
    assert vk.token not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize("address", ["", "vk.com/id1", "1.5"])
async def test_an_address_that_is_not_a_peer_id_is_permanent(
    vk: FakeVkApi, channel: VkChannel, address: str
) -> None:
    with pytest.raises(PermanentChannelError, match="peer id"):
        await channel.send(address, from_row("привет"))
    assert vk.calls("messages.send") == []


@pytest.mark.parametrize("text", ["", "  \n "])
async def test_an_empty_reply_is_permanent_and_not_sent(
    vk: FakeVkApi, channel: VkChannel, text: str
) -> None:
    with pytest.raises(PermanentChannelError, match="no text"):
        await channel.send(str(PEER), from_row(text))
    assert vk.calls("messages.send") == []
