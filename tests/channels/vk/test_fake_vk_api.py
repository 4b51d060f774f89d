"""The fake VK API speaks the real protocol: the app's own VkClient (vk-api underneath), vk-api's
VkBotLongPoll and plain HTTP agree with it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import requests
import vk_api
from vk_api.bot_longpoll import VkBotEventType, VkBotLongPoll
from vk_api.keyboard import VkKeyboard

from channels.vk.client import VkApiSession, VkClient
from tests.channels.vk.events import (
    CHAT_PEER_ID,
    callback_body,
    confirmation_body,
    new_vk_user,
)
from tests.channels.vk.fake_vk_api import FakeVkApi, Poll

VERSION = "5.199"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as plain:
        yield plain


async def poll(http: httpx.AsyncClient, server: str, key: str, ts: str | int,
               wait: float = 0) -> dict[str, Any]:
    answer = await http.get(server, params={"act": "a_check", "key": key, "ts": str(ts),
                                            "wait": str(wait)})
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def send(client: VkClient, peer_id: int, text: str = "Здравствуйте!", *,
               random_id: int = 1, **extra: Any) -> Any:
    return await client.call("messages.send", peer_id=peer_id, message=text,
                             random_id=random_id, **extra)


async def refused(client: VkClient, method: str, **params: Any) -> vk_api.ApiError:
    with pytest.raises(vk_api.ApiError) as caught:
        await client.call(method, **params)
    return caught.value


# -- calls ---------------------------------------------------------------------------------------

async def test_token_version_and_method_are_checked(vk: FakeVkApi, http: httpx.AsyncClient
                                                    ) -> None:
    stranger = VkClient(token="vk1.a.wrong", api_version=VERSION, api_base=vk.url)
    try:
        error = await refused(stranger, "users.get", user_ids="1")
    finally:
        stranger.close()
    assert error.code == 5 and "invalid access_token" in error.error["error_msg"]
    keys = {p["key"] for p in error.error["request_params"]}
    assert "access_token" not in keys and {"user_ids", "v"} <= keys

    no_version = await http.post(f"{vk.url}/method/users.get",
                                 data={"access_token": vk.token, "user_ids": "1"})
    assert no_version.status_code == 200
    assert no_version.json()["error"]["error_code"] == 8

    get = await http.get(f"{vk.url}/method/users.get",
                         params={"access_token": vk.token, "v": VERSION, "user_ids": "7"})
    assert get.json() == {"response": [{"id": 7, "first_name": "User", "last_name": "7",
                                        "can_access_closed": True, "is_closed": False}]}

    client = VkClient(token=vk.token, api_version=VERSION, api_base=vk.url)
    try:
        assert (await refused(client, "messages.sendPigeon")).code == 3
    finally:
        client.close()
    assert [c.error for c in vk.calls()] == [5, 8, None, 3]
    assert all("access_token" not in c.params for c in vk.calls())


async def test_community_and_users(vk: FakeVkApi, client: VkClient) -> None:
    vk.set_user(501, "Анна", "Смирнова")
    users = await client.call("users.get", user_ids="501,502", fields="screen_name")
    assert [(u["id"], u["first_name"], u["last_name"]) for u in users] == [
        (501, "Анна", "Смирнова"), (502, "User", "502")]
    assert (await refused(client, "users.get", user_ids="durov")).code == 113

    by_id = await client.call("groups.getById", group_id=vk.group_id)
    assert by_id == {"groups": [{"id": vk.group_id, "name": vk.group_name,
                                 "screen_name": vk.screen_name, "is_closed": 0,
                                 "type": "group"}], "profiles": []}
    settings = await client.call("groups.getLongPollSettings", group_id=vk.group_id)
    assert settings["is_enabled"] is True and settings["events"]["message_new"] == 1

    vk.callback_url = "https://abonent.example.test/vk/callback"
    servers = await client.call("groups.getCallbackServers", group_id=vk.group_id)
    assert servers["count"] == 1
    assert servers["items"][0]["url"] == "https://abonent.example.test/vk/callback"
    assert (await refused(client, "groups.getCallbackServers", group_id=1)).code == 100


async def test_reset_restores_settings_and_forgets(vk: FakeVkApi, client: VkClient) -> None:
    vk.group_name = "Другое"
    vk.set_user(9, "Пётр", "Первый")
    await send(client, 42)
    vk.reset()
    assert vk.group_name == "Абонент — поддержка"
    assert vk.calls() == [] and vk.all_sent() == [] and vk.events() == []
    assert vk.current_ts == 1
    assert (await client.call("users.get", user_ids="9"))[0]["first_name"] == "User"
    await send(client, 42)  # the same random_id is news again
    assert len(vk.sent(42)) == 1


# -- messages.send -------------------------------------------------------------------------------

async def test_send_delivers_once_per_random_id(vk: FakeVkApi, client: VkClient) -> None:
    first = await send(client, 42, "Баланс: 120 ₽", random_id=777)
    again = await send(client, 42, "Баланс: 120 ₽", random_id=777)
    other = await send(client, 42, "Ещё", random_id=778)
    elsewhere = await send(client, 43, "Другому", random_id=777)
    assert isinstance(first, int) and first > 0
    assert again == first, "VK answers a repeated random_id with the first message's id"
    assert len({first, other, elsewhere}) == 3
    assert [(m.text, m.random_id, m.message_id) for m in vk.sent(42)] == [
        ("Баланс: 120 ₽", 777, first), ("Ещё", 778, other)]
    assert [m.peer_id for m in vk.all_sent()] == [42, 42, 43]
    assert len(vk.calls("messages.send")) == 4
    assert vk.calls("messages.send")[0].params["peer_id"] == "42"

    await send(client, 44, "ноль", random_id=0)
    await send(client, 44, "ноль", random_id=0)
    assert len(vk.sent(44)) == 2, "random_id 0 is not deduplicated"


async def test_send_echoes_the_reply_into_the_long_poll(vk: FakeVkApi, client: VkClient) -> None:
    message_id = await send(client, 42, "Ответ", random_id=5)
    [event] = vk.events()
    assert event["type"] == "message_reply" and event["group_id"] == vk.group_id
    assert event["object"]["id"] == message_id and event["object"]["out"] == 1
    assert event["object"]["from_id"] == -vk.group_id and event["object"]["text"] == "Ответ"
    vk.echo_replies = False
    await send(client, 42, "Тихо", random_id=6)
    assert len(vk.events()) == 1


async def test_send_refuses_what_vk_refuses(vk: FakeVkApi, client: VkClient) -> None:
    missing = await refused(client, "messages.send", peer_id=42, message="x")
    huge = await refused(client, "messages.send", peer_id=42, message="x", random_id=2**31)
    not_int = await refused(client, "messages.send", peer_id=42, message="x", random_id="abc")
    empty = await refused(client, "messages.send", peer_id=42, message="  ", random_id=1)
    too_long = await refused(client, "messages.send", peer_id=42, message="я" * 4097,
                             random_id=1)
    assert [e.code for e in (missing, huge, not_int, empty)] == [100] * 4
    assert "random_id" in missing.error["error_msg"] and "random_id" in huge.error["error_msg"]
    assert too_long.code == 914 and too_long.error["error_msg"] == "Message is too long"
    assert await send(client, 42, "я" * 4096, random_id=-(2**31))
    assert [len(m.text) for m in vk.sent(42)] == [4096]


async def test_keyboards_follow_vk_rules(vk: FakeVkApi, client: VkClient) -> None:
    good = VkKeyboard(inline=True)
    good.add_callback_button("Тарифы", payload={"cmd": "tariffs"})
    good.add_openlink_button("Сайт", "https://operator.example.test")
    await send(client, 42, "Выберите", keyboard=good.get_keyboard())
    [sent] = vk.sent(42)
    assert sent.keyboard is not None and sent.keyboard["inline"] is True
    assert sent.keyboard["buttons"][0][0]["action"]["payload"] == '{"cmd":"tariffs"}'

    seven_rows = VkKeyboard(inline=True)
    with pytest.raises(ValueError):
        for _ in range(7):
            seven_rows.add_line()  # vk-api itself stops a 7th inline row
    eleven = VkKeyboard(inline=True)  # vk-api lets 11 inline buttons through, VK does not
    for row in range(3):
        if row:
            eleven.add_line()
        for column in range(4 if row < 2 else 3):
            eleven.add_button(f"Кнопка {row}{column}")

    def button(label: str, payload: str | None = None) -> dict[str, Any]:
        return {"action": {"type": "text", "label": label, "payload": payload}}

    def keyboard(*rows: list[dict[str, Any]], inline: bool = True) -> str:
        return json.dumps({"inline": inline, "buttons": list(rows)})

    bad = {
        "11 inline buttons": eleven.get_keyboard(),
        "7 inline rows": keyboard(*([button("a")] for _ in range(7))),
        "11 default rows": keyboard(*([button("a")] for _ in range(11)), inline=False),
        "6 in a row": keyboard([button(str(i)) for i in range(6)], inline=False),
        "41-char label": keyboard([button("я" * 41)]),
        "empty label": keyboard([button("")]),
        "256-byte payload": keyboard([button("a", json.dumps("x" * 254))]),
        "payload not JSON": keyboard([button("a", "{cmd")]),
        "unknown type": keyboard([{"action": {"type": "teleport", "label": "a"}}]),
        "not an object": json.dumps([[button("a")]]),
    }
    for what, raw in bad.items():
        error = await refused(client, "messages.send", peer_id=42, message="x", random_id=9,
                              keyboard=raw)
        assert error.code == 911, what
        assert error.error["error_msg"].startswith("Keyboard format is invalid: "), what
    assert await send(client, 42, "x", random_id=10,
                      keyboard=keyboard([button("я" * 40, json.dumps("x" * 253))]))
    assert await send(client, 42, "x", random_id=11, keyboard=VkKeyboard.get_empty_keyboard())
    assert len(vk.sent(42)) == 3


async def test_a_blocked_peer_gets_901(vk: FakeVkApi, client: VkClient) -> None:
    await send(client, 42, random_id=1)
    vk.block(42)
    error = await refused(client, "messages.send", peer_id=42, message="ещё", random_id=2)
    assert error.code == 901
    assert error.error["error_msg"] == "Can't send messages for users without permission"
    assert await send(client, 42, random_id=1), "a retry of a delivered send still answers"
    await send(client, 43, random_id=2)
    assert [len(vk.sent(42)), len(vk.sent(43))] == [1, 1]


async def test_event_answers_are_recorded(vk: FakeVkApi, client: VkClient) -> None:
    answer = await client.call("messages.sendMessageEventAnswer", event_id="3159dc190b1f",
                               user_id=42, peer_id=42,
                               event_data=json.dumps({"type": "show_snackbar", "text": "Ок"}))
    assert answer == 1
    [call] = vk.calls("messages.sendMessageEventAnswer")
    assert call.params["event_id"] == "3159dc190b1f" and call.error is None
    assert (await refused(client, "messages.sendMessageEventAnswer", user_id=42,
                          peer_id=42)).code == 100


# -- faults --------------------------------------------------------------------------------------

async def test_injected_faults_surface_as_vk_api_errors(vk: FakeVkApi, client: VkClient
                                                        ) -> None:
    vk.fail_next("messages.send", error_code=6, times=2)
    assert (await refused(client, "messages.send", peer_id=1, message="a", random_id=1)
            ).code == 6
    error = await refused(client, "messages.send", peer_id=1, message="a", random_id=1)
    assert error.error["error_msg"] == "Too many requests per second"
    assert await send(client, 1, "a", random_id=1)
    assert len(vk.sent(1)) == 1

    vk.fail_next("messages.send", http_status=500)
    with pytest.raises(vk_api.ApiHttpError) as caught:
        await send(client, 1, "b", random_id=2)
    assert caught.value.response.status_code == 500
    vk.fail_next("users.get", body="<html>captive portal</html>")
    with pytest.raises(requests.JSONDecodeError):
        await client.call("users.get", user_ids="1")
    vk.fail_next("users.get", error_code=10, error_msg="Internal server error: try later")
    assert "try later" in str(await refused(client, "users.get", user_ids="1"))
    assert [(c.error, c.http_status) for c in vk.calls()] == [
        (6, 200), (6, 200), (None, 200), (None, 500), (None, 200), (10, 200)]
    assert len(vk.sent(1)) == 1


async def test_slow_holds_the_answer(vk: FakeVkApi, client: VkClient) -> None:
    vk.slow("users.get", 0.3)
    started = time.monotonic()
    await client.call("users.get", user_ids="1")
    assert time.monotonic() - started >= 0.3
    vk.slow("users.get", 0)
    hasty = VkClient(token=vk.token, api_version=VERSION, api_base=vk.url, timeout=(1, 0.2))
    vk.slow("messages.send", 1.0)
    try:
        with pytest.raises(requests.Timeout):
            await hasty.call("messages.send", peer_id=1, message="a", random_id=1)
    finally:
        hasty.close()
    await vk.wait_for(lambda: vk.sent(1), what="the slow send to land anyway")


async def test_wait_for_explains_a_timeout(vk: FakeVkApi) -> None:
    with pytest.raises(AssertionError, match="a message to peer 42"):
        await vk.wait_for(lambda: vk.sent(42), timeout=0.1, what="a message to peer 42")


# -- the Bots Long Poll --------------------------------------------------------------------------

async def test_long_poll_returns_events_and_the_next_ts(
    vk: FakeVkApi, client: VkClient, http: httpx.AsyncClient
) -> None:
    server = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    assert server["server"] == f"{vk.url}/lp" and server["ts"] == "1"
    ivan = new_vk_user()
    first = vk.enqueue(ivan.text("привет"))
    second = vk.enqueue(ivan.button("Баланс", {"cmd": "balance"}))
    assert (first, second, vk.current_ts) == (1, 2, 3)

    answer = await poll(http, server["server"], server["key"], server["ts"])
    assert answer["ts"] == "3"
    texts = [u["object"]["message"]["text"] for u in answer["updates"]]
    assert texts == ["привет", "Баланс"]
    assert answer["updates"][1]["object"]["message"]["payload"] == '{"cmd":"balance"}'
    assert (await poll(http, server["server"], server["key"], 2))["ts"] == "3", "ts=2 re-reads"
    assert await poll(http, server["server"], server["key"], 3) == {"ts": "3", "updates": []}
    assert [p.failed for p in vk.polls] == [None, None, None]
    assert vk.polls[0] == Poll(1, server["key"], None)

    for n in range(150):
        vk.enqueue(ivan.text(f"{n}"))
    page = await poll(http, server["server"], server["key"], 3)
    assert len(page["updates"]) == 100 and page["ts"] == "103"

    other = await refused(client, "groups.getLongPollServer", group_id=1)
    assert other.code == 100


async def test_a_held_poll_answers_when_an_event_arrives(
    vk: FakeVkApi, client: VkClient, http: httpx.AsyncClient
) -> None:
    server = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    started = time.monotonic()
    empty = await poll(http, server["server"], server["key"], server["ts"], wait=0.5)
    assert empty == {"ts": "1", "updates": []} and time.monotonic() - started >= 0.5

    held = asyncio.create_task(poll(http, server["server"], server["key"], "1", wait=20))
    await vk.wait_for(lambda: vk.held_polls == 1, what="the poll to be held")
    started = time.monotonic()
    vk.enqueue(new_vk_user().text("наконец"))
    answer = await held
    assert time.monotonic() - started < 2 and answer["ts"] == "2"
    assert answer["updates"][0]["object"]["message"]["text"] == "наконец"
    assert vk.held_polls == 0

    # a send echoes into the log, which answers a held poll too
    held = asyncio.create_task(poll(http, server["server"], server["key"], "2", wait=20))
    await vk.wait_for(lambda: vk.held_polls == 1, what="the poll to be held")
    await send(client, 42, "эхо")
    assert (await held)["updates"][0]["type"] == "message_reply"


async def test_injected_poll_failures(
    vk: FakeVkApi, client: VkClient, http: httpx.AsyncClient
) -> None:
    server = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    lp, key = server["server"], server["key"]
    vk.enqueue(new_vk_user().text("раз"))
    for failed in (1, 2, 3):
        vk.fail_next_poll(failed)
    assert await poll(http, lp, key, 1) == {"failed": 1, "ts": "2"}
    assert await poll(http, lp, key, 1) == {"failed": 2}
    assert await poll(http, lp, key, 1) == {"failed": 3}
    assert len((await poll(http, lp, key, 1))["updates"]) == 1, "each failure came once"

    held = asyncio.create_task(poll(http, lp, key, 2, wait=20))
    await vk.wait_for(lambda: vk.held_polls == 1, what="the poll to be held")
    vk.fail_next_poll(2)
    assert await held == {"failed": 2}, "a held poll gets the injected failure at once"
    assert [p.failed for p in vk.polls] == [1, 2, 3, None, 2]

    vk.fail_next("lp", http_status=502)
    bad_gateway = await http.get(lp, params={"act": "a_check", "key": key, "ts": "2"})
    assert bad_gateway.status_code == 502


async def test_keys_expire_and_old_ts_are_forgotten(
    vk: FakeVkApi, client: VkClient, http: httpx.AsyncClient
) -> None:
    old = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    new = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    assert old["key"] != new["key"]
    assert (await poll(http, old["server"], old["key"], 1))["updates"] == [], "both keys work"
    assert await poll(http, old["server"], "made-up", 1) == {"failed": 2}

    vk.expire_key()
    assert await poll(http, old["server"], new["key"], 1) == {"failed": 2}
    fresh = await client.call("groups.getLongPollServer", group_id=vk.group_id)
    assert await poll(http, fresh["server"], fresh["key"], 1) == {"ts": "1", "updates": []}

    ivan = new_vk_user()
    for word in ("раз", "два", "три"):
        vk.enqueue(ivan.text(word))
    vk.forget_before(3)
    assert await poll(http, fresh["server"], fresh["key"], 1) == {"failed": 1, "ts": "3"}
    kept = await poll(http, fresh["server"], fresh["key"], 3)
    assert [u["object"]["message"]["text"] for u in kept["updates"]] == ["три"]
    assert await poll(http, fresh["server"], fresh["key"], 99) == {"failed": 1, "ts": "4"}


async def test_vk_api_bot_long_poll_reads_the_events(vk: FakeVkApi) -> None:
    """vk-api's own long-poll reader understands the events' shapes."""
    ivan, anna = new_vk_user(), new_vk_user("Анна", "Смирнова")
    session = VkApiSession(vk.url)
    api = vk_api.VkApi(token=vk.token, api_version=VERSION, session=session)
    try:
        reader = await asyncio.to_thread(VkBotLongPoll, api, vk.group_id, 1)
        vk.enqueue(ivan.text("привет"))
        vk.enqueue(anna.in_chat("всем привет"))
        vk.enqueue(ivan.edit("привет!"))
        vk.enqueue(ivan.callback_press({"cmd": "tariffs"}))
        vk.enqueue(ivan.photo("вот"))
        events = await asyncio.to_thread(reader.check)
    finally:
        session.close()
    assert [e.type for e in events] == [VkBotEventType.MESSAGE_NEW, VkBotEventType.MESSAGE_NEW,
                                        VkBotEventType.MESSAGE_EDIT, VkBotEventType.MESSAGE_EVENT,
                                        VkBotEventType.MESSAGE_NEW]
    private, chat, edit, press, photo = events
    assert private.from_user and private.message.text == "привет"
    assert private.message.from_id == ivan.user_id and private.client_info.keyboard
    assert chat.from_chat and chat.chat_id == 1 and chat.message.peer_id == CHAT_PEER_ID
    assert chat.message.from_id == anna.user_id
    assert edit.object.text == "привет!" and edit.object.id == private.message.id
    assert press.object.payload == {"cmd": "tariffs"} and press.object.user_id == ivan.user_id
    assert photo.message.attachments[0]["type"] == "photo"


def test_event_builders() -> None:
    ivan, other = new_vk_user(), new_vk_user()
    assert other.user_id == ivan.user_id + 1 and ivan.user_id > 500_000_000
    first, second = ivan.text("раз"), ivan.text("два", payload='{"a":1}')
    assert first["event_id"] != second["event_id"] and first["v"] == VERSION
    one, two = first["object"]["message"], second["object"]["message"]
    assert one["peer_id"] == one["from_id"] == ivan.user_id and one["out"] == 0
    assert two["id"] > one["id"] and "payload" not in one and two["payload"] == '{"a":1}'
    assert two["conversation_message_id"] == one["conversation_message_id"] + 1
    assert first["object"]["client_info"]["button_actions"][0] == "text"
    assert ivan.sticker()["object"]["message"]["attachments"][0]["type"] == "sticker"
    assert ivan.voice()["object"]["message"]["attachments"][0]["type"] == "audio_message"
    assert ivan.wall()["object"]["message"]["attachments"][0]["type"] == "wall"
    assert ivan.in_chat("всем")["object"]["message"]["id"] == 0

    body = callback_body(first, secret="s3cret", group_id=1)
    assert body["secret"] == "s3cret" and body["group_id"] == 1 and "secret" not in first
    assert confirmation_body(7) == {"type": "confirmation", "group_id": 7}
