"""The NLU cache is shared by every subscriber: texts that may hold personal data (a phone
number, a one-time code, an account number) are parsed each time and never kept in it."""

from __future__ import annotations

import pytest

from nlu.cache import ParseCache
from nlu.results import NluResult


def result(text: str) -> NluResult:
    return NluResult.certain(text, "my_number", (), lang="ru", model_id="m")


@pytest.mark.parametrize("text", [
    "+375 29 123-45-67", "мой номер 80291234567", "123456", "код 123 456", "12-34-56",
    "(029) 1234567", "счёт 1234567890",
])
def test_personal_digits_are_never_cached(text: str) -> None:
    cache = ParseCache(10)
    cache.put("m", text, result(text))
    assert len(cache) == 0 and cache.get("m", text) is None


@pytest.mark.parametrize("text", ["баланс", "роуминг в 2024 году", "тариф 100", "*100#"])
def test_ordinary_texts_are_cached(text: str) -> None:
    cache = ParseCache(10)
    cache.put("m", text, result(text))
    assert cache.get("m", text) is not None
