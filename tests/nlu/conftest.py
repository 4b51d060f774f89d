"""Fixtures for the NLU client tests: a real fake-Rasa HTTP server and clients aimed at it.

``rasa`` is the running fake (reset before each test), ``make_client(**kw)`` builds an
:class:`~nlu.NluClient` pointed at it with the right token and a near-zero back-off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from nlu import NluClient
from tests.support.fake_rasa import FAKE_RASA_TOKEN, FakeRasa


@pytest.fixture(scope="session")
def fake_rasa_server() -> Iterator[FakeRasa]:
    with FakeRasa(token=FAKE_RASA_TOKEN) as server:
        yield server


@pytest.fixture
def rasa(fake_rasa_server: FakeRasa) -> FakeRasa:
    fake_rasa_server.reset()
    return fake_rasa_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make_client(rasa: FakeRasa, http: httpx.AsyncClient) -> Callable[..., NluClient]:
    def make(**kwargs: Any) -> NluClient:
        kwargs.setdefault("token", FAKE_RASA_TOKEN)
        kwargs.setdefault("backoff", 0.001)
        base_url = kwargs.pop("base_url", rasa.url)
        return NluClient(http, base_url, **kwargs)

    return make
