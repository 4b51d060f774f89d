"""VK under faults, end to end (real app, real Rasa, real database): a send retried after an
HTTP error or a timeout is delivered once (same ``random_id``), a user who does not accept the
community's messages is marked blocked and never retried, permanent errors are not retried, and
the long poll and ``users.get`` failing do not lose or hold up a message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.storage import Identity
from channels.vk.client import VkClient
from nlu.server import RasaServer
from tests.channels.vk.events import VkUser, new_vk_user
from tests.channels.vk.fake_vk_api import FakeVkApi
from tests.support import channel_db
from tests.support.vk import VkApp, running_vk_app

pytestmark = pytest.mark.rasa


async def identity(app: VkApp, user: VkUser) -> Identity | None:
    return await channel_db.find_identity(app.services.db, "vk", str(user.user_id))


def sends_to(vk: FakeVkApi, user: VkUser) -> list[dict[str, str]]:
    return [c.params for c in vk.calls("messages.send")
            if c.params.get("peer_id") == str(user.user_id)]


@pytest.mark.parametrize("fault", [{"http_status": 500}, {"http_status": 502},
                                   {"error_code": 10}])
async def test_a_send_retried_after_a_server_error_keeps_its_random_id(
    long_poll_app: VkApp, fault: dict[str, Any]
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.fail_next("messages.send", **fault)
    vk.enqueue(anna.text("/help"))
    await vk.wait_for(lambda: long_poll_app.delivered(anna), timeout=20, what="outbox done")
    [sent] = vk.sent(anna.user_id)
    assert sent.text.startswith("Вот с чем я могу помочь")
    tries = sends_to(vk, anna)
    assert len(tries) == 2 and {t["random_id"] for t in tries} == {str(sent.random_id)}
    [row] = await long_poll_app.outbox(anna)
    assert (row.status, row.attempts) == ("sent", 2)


@pytest.fixture
async def impatient_app(
    database_url: str, rasa_server: RasaServer, vk: FakeVkApi,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[VkApp]:
    """The app whose VK calls time out after 1 s (instead of 20 s)."""
    defaults = VkClient.__init__.__kwdefaults__
    assert defaults is not None and "timeout" in defaults
    monkeypatch.setitem(defaults, "timeout", (5.0, 1.0))
    async with running_vk_app(database_url, rasa_server, vk) as app:
        yield app


async def test_a_send_that_timed_out_after_vk_took_it_is_delivered_once(
    impatient_app: VkApp,
) -> None:
    vk, anna = impatient_app.api, new_vk_user()
    vk.slow("messages.send", 1.6)  # VK takes the call, but answers after our timeout
    vk.enqueue(anna.text("/help"))
    await vk.wait_sent(anna.user_id, timeout=20)
    vk.slow("messages.send", 0)
    await vk.wait_for(lambda: impatient_app.delivered(anna), timeout=20, what="outbox done")
    [sent] = vk.sent(anna.user_id)
    tries = sends_to(vk, anna)
    assert len(tries) >= 2, "the timed-out send was retried"
    assert {t["random_id"] for t in tries} == {str(sent.random_id)}
    [row] = await impatient_app.outbox(anna)
    assert row.status == "sent" and row.attempts == len(tries)


async def test_a_user_who_blocked_the_community_is_marked_and_never_retried(
    long_poll_app: VkApp,
) -> None:
    vk, anna, boris = long_poll_app.api, new_vk_user(), new_vk_user("Борис")
    vk.block(anna.user_id)  # error 901 from now on
    vk.enqueue(anna.text("/help"))
    await vk.wait_for(lambda: long_poll_app.delivered(anna), timeout=30, what="given up")
    [row] = await long_poll_app.outbox(anna)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "901" in row.last_error
    blocked = await identity(long_poll_app, anna)
    assert blocked is not None and blocked.blocked_at is not None

    vk.enqueue(boris.text("/help"))  # the sender keeps working for others...
    await vk.wait_sent(boris.user_id)
    await vk.wait_for(lambda: long_poll_app.delivered(boris), what="Boris served")
    assert len(sends_to(vk, anna)) == 1, "...and never tries Anna again"
    assert vk.sent(anna.user_id) == []


async def test_privacy_settings_902_mark_the_user_blocked_too(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.fail_next("messages.send", error_code=902)
    vk.enqueue(anna.text("/help"))
    await vk.wait_for(lambda: long_poll_app.delivered(anna), timeout=30, what="given up")
    [row] = await long_poll_app.outbox(anna)
    assert (row.status, row.attempts) == ("failed", 1)
    blocked = await identity(long_poll_app, anna)
    assert blocked is not None and blocked.blocked_at is not None


async def test_writing_again_after_unblocking_is_answered(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.fail_next("messages.send", error_code=901)
    vk.enqueue(anna.text("/help"))
    await vk.wait_for(lambda: long_poll_app.delivered(anna), timeout=30, what="given up")
    vk.enqueue(anna.text("/start"))  # she allowed messages again and wrote
    [greeting] = await vk.wait_sent(anna.user_id, timeout=30)
    assert greeting.text.startswith("Здравствуйте")
    unblocked = await identity(long_poll_app, anna)
    assert unblocked is not None and unblocked.blocked_at is None


async def test_a_permanent_error_is_not_retried_and_the_next_reply_goes_on(
    long_poll_app: VkApp,
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.fail_next("messages.send", error_code=100, error_msg="peer_id is invalid")
    vk.enqueue(anna.text("/start"))
    vk.enqueue(anna.text("/help"))
    [help_reply] = await vk.wait_sent(anna.user_id, timeout=30)
    assert help_reply.text.startswith("Вот с чем я могу помочь")
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="outbox done")
    rows = await long_poll_app.outbox(anna)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("sent", 1)]
    assert rows[0].last_error is not None and "peer_id is invalid" in rows[0].last_error
    blocked = await identity(long_poll_app, anna)
    assert blocked is not None and blocked.blocked_at is None, "not a blocked user"


async def test_the_long_poll_failing_over_http_loses_nothing(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    await vk.wait_for(lambda: vk.held_polls, timeout=15, what="the app polling")
    vk.fail_next("lp", http_status=502)
    vk.fail_next("groups.getLongPollServer", error_code=10)
    vk.expire_key()  # the held poll ends: the next ones meet the faults
    vk.enqueue(anna.text("какой у меня баланс"))
    [reply, *_] = await vk.wait_sent(anna.user_id, timeout=20)
    assert "баланс" in reply.text.lower()
    assert [c.error for c in vk.calls("groups.getLongPollServer")][:2] == [None, 10]
    await vk.wait_for(lambda: long_poll_app.delivered(anna), what="outbox done")
    assert len(await long_poll_app.messages(anna, "in")) == 1


async def test_users_get_failing_does_not_hold_up_the_answer(long_poll_app: VkApp) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Анна", "Ковалёва")
    vk.fail_next("users.get", error_code=10)
    vk.enqueue(anna.text("/help"))
    await vk.wait_sent(anna.user_id, timeout=30)
    stored = await identity(long_poll_app, anna)
    assert stored is not None and stored.display_name is None, "stored without a name"


async def test_a_name_users_get_could_not_give_at_first_arrives_with_the_next_message(
    long_poll_app: VkApp,
) -> None:
    vk, anna = long_poll_app.api, new_vk_user()
    vk.set_user(anna.user_id, "Анна", "Ковалёва")
    vk.fail_next("users.get", error_code=10)
    vk.enqueue(anna.text("/help"))
    await vk.wait_sent(anna.user_id, timeout=30)
    vk.enqueue(anna.text("/start"))
    await vk.wait_sent(anna.user_id, 2, timeout=30)
    assert len(vk.calls("users.get")) == 2, "the name was asked for again"
    stored = await identity(long_poll_app, anna)
    assert stored is not None and stored.display_name == "Анна Ковалёва"
