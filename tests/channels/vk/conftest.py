"""Fixtures of the VK tests: the fake VK API server, the app's real client aimed at it, and the
whole app (real Rasa, real database) in Long Poll or Callback mode (tests/support/vk.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from channels.vk.client import VkClient
from nlu.server import RasaServer
from tests.channels.vk.fake_vk_api import FakeVkApi
from tests.support.vk import VkApp, running_vk_app


@pytest.fixture(scope="session")
def fake_vk() -> Iterator[FakeVkApi]:
    with FakeVkApi() as server:
        yield server


@pytest.fixture
def vk(fake_vk: FakeVkApi) -> FakeVkApi:
    """The fake VK API, reset for this test."""
    fake_vk.reset()
    return fake_vk


@pytest.fixture
def client(vk: FakeVkApi) -> Iterator[VkClient]:
    """The app's real client (vk-api underneath), aimed at the fake."""
    real = VkClient(token=vk.token, api_version="5.199", api_base=vk.url)
    yield real
    real.close()


@pytest.fixture
async def long_poll_app(
    database_url: str, rasa_server: RasaServer, vk: FakeVkApi
) -> AsyncIterator[VkApp]:
    async with running_vk_app(database_url, rasa_server, vk) as app:
        yield app


@pytest.fixture
async def callback_app(
    database_url: str, rasa_server: RasaServer, vk: FakeVkApi
) -> AsyncIterator[VkApp]:
    async with running_vk_app(database_url, rasa_server, vk, callback=True) as app:
        yield app
