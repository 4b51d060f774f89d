"""Subscribers' names: one users.get per batch, cached for a while and bounded, and a VK that
cannot be asked never holds a message up."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
import requests
import vk_api

from channels.vk import names as names_module
from channels.vk.client import VkClient
from channels.vk.names import UserNames

DIRECTORY = {
    1: ("Иван", "Петров"),
    2: ("  Анна ", " Іванова  "),
    3: ("Ольга", ""),
    4: ("", ""),
}


class StubVk:
    """Answers users.get from DIRECTORY as VK does (unknown ids are left out), or raises
    ``failure``; records every call."""

    def __init__(self, failure: BaseException | None = None, answer: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failure = failure
        self.answer = answer

    async def call(self, method: str, **params: Any) -> Any:
        self.calls.append((method, params))
        if self.failure is not None:
            raise self.failure
        if self.answer is not None:
            return self.answer
        ids = [int(i) for i in str(params["user_ids"]).split(",")]
        return [{"id": i, "first_name": DIRECTORY[i][0], "last_name": DIRECTORY[i][1],
                 "can_access_closed": True, "is_closed": False} for i in ids if i in DIRECTORY]

    def asked(self) -> list[set[int]]:
        """The ids of each users.get call."""
        assert all(method == "users.get" for method, _ in self.calls)
        return [{int(i) for i in str(p["user_ids"]).split(",")} for _, p in self.calls]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The names module's clock only (the event loop keeps the real one)."""
    fake = Clock()
    monkeypatch.setattr(names_module, "time", fake)
    return fake


def user_names(stub: StubVk, **kwargs: Any) -> UserNames:
    return UserNames(cast(VkClient, stub), **kwargs)


async def test_one_call_for_a_batch_then_the_cache() -> None:
    stub = StubVk()
    names = user_names(stub)
    await names.fetch([2, 1, 2, 1])
    assert stub.asked() == [{1, 2}]
    assert names.cached(1) == "Иван Петров"
    await names.fetch([1, 2])
    await names.fetch(iter([2]))
    assert len(stub.calls) == 1, "cached names are not asked for again"


async def test_only_the_missing_ids_are_asked_for() -> None:
    stub = StubVk()
    names = user_names(stub)
    await names.fetch([1])
    await names.fetch([1, 3])
    assert stub.asked() == [{1}, {3}]


async def test_nothing_to_ask_no_call() -> None:
    stub = StubVk()
    await user_names(stub).fetch([])
    assert stub.calls == []


async def test_users_get_takes_at_most_1000_ids_a_call() -> None:
    stub = StubVk(answer=[])
    await user_names(stub).fetch(range(1, 2501))
    asked = stub.asked()
    assert [len(ids) for ids in asked] == [1000, 1000, 500]
    assert set().union(*asked) == set(range(1, 2501))


async def test_names_are_first_and_last_trimmed() -> None:
    names = user_names(StubVk())
    await names.fetch([1, 2, 3, 4])
    assert names.cached(1) == "Иван Петров"
    assert names.cached(2) == "Анна Іванова"
    assert names.cached(3) == "Ольга"
    assert names.cached(4) is None, "no name is better than a blank one"
    assert names.cached(99) is None


async def test_a_name_expires_after_its_ttl(clock: Clock) -> None:
    stub = StubVk()
    names = user_names(stub, ttl=3600.0)
    await names.fetch([1])
    clock.now += 3599.0
    assert names.cached(1) == "Иван Петров"
    await names.fetch([1])
    assert len(stub.calls) == 1
    clock.now += 2.0
    assert names.cached(1) is None
    await names.fetch([1])
    assert stub.asked() == [{1}, {1}] and names.cached(1) == "Иван Петров"


async def test_a_zero_ttl_caches_nothing() -> None:
    stub = StubVk()
    names = user_names(stub, ttl=0.0)
    await names.fetch([1])
    assert names.cached(1) is None
    await names.fetch([1])
    assert len(stub.calls) == 2


async def test_the_cache_is_bounded() -> None:
    stub = StubVk()
    names = user_names(stub, size=2)
    await names.fetch([1, 2, 3])
    remembered = [i for i in (1, 2, 3) if names.cached(i) is not None]
    assert len(remembered) == 2 and 3 in remembered, "the oldest entry goes first"
    await names.fetch([1, 2, 3])
    assert len(stub.calls) == 2 and stub.asked()[1] == set({1, 2, 3}) - set(remembered)


@pytest.mark.parametrize("failure", [
    vk_api.ApiError(vk=None, method="users.get",
                    values={"access_token": "vk1.a.SeCrEt-token_0123456789", "user_ids": "1"},
                    raw=False, error={"error_code": 10, "error_msg": "Internal server error"}),
    requests.ConnectionError("Connection refused"),
    requests.Timeout("timed out"),
    RuntimeError("a bug in the client"),
])
async def test_a_vk_that_cannot_be_asked_leaves_the_names_unknown(
        failure: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    stub = StubVk(failure=failure)
    names = user_names(stub, secrets=("vk1.a.SeCrEt-token_0123456789",))
    with caplog.at_level(logging.DEBUG, logger="channels.vk"):
        await names.fetch([1, 2])
    assert names.cached(1) is None and names.cached(2) is None
    assert "SeCrEt" not in caplog.text
    stub.failure = None  # VK is back: the names are asked for again, not remembered as unknown
    await names.fetch([1, 2])
    assert names.cached(1) == "Иван Петров" and len(stub.calls) == 2


@pytest.mark.parametrize("answer", [
    {"items": []}, "ok", [None, 5, {"id": "1"}, {"name": "x"}],
    pytest.param([{"id": True, "first_name": "X"}], id="a-bool-id-is-not-user-1"),
])
async def test_an_answer_in_another_shape_is_survived(answer: Any) -> None:
    names = user_names(StubVk(answer=answer))
    await names.fetch([1])
    assert names.cached(1) is None


async def test_names_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    names = user_names(StubVk())
    with caplog.at_level(logging.DEBUG):
        await names.fetch([1, 2])
    assert names.cached(1) == "Иван Петров"
    assert "Иван" not in caplog.text and "Анна" not in caplog.text
