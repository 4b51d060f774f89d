from __future__ import annotations

import pytest

from nlu import NluResult, ParseCache, normalise_text


def result(text: str, intent: str = "check_balance") -> NluResult:
    return NluResult(text, intent, intent, 0.9, (), (), "ru", "m1")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Баланс", "баланс"),
        ("  баланс!!! ", "баланс"),
        ("«Баланс?»", "баланс"),
        ("Ещё  раз\tпроверь\nбаланс...", "еще раз проверь баланс"),
        ("ЁЛКИ", "елки"),
        ("ｂａｌａｎｃｅ", "balance"),  # fullwidth letters (NFKC)
        ("Straße", "strasse"),  # casefold
        ("как дела?! ок", "как дела?! ок"),  # punctuation inside stays
        ("...", ""),
    ],
)
def test_normalise_text(raw: str, normalised: str) -> None:
    assert normalise_text(raw) == normalised


def test_variants_share_an_entry_and_models_do_not() -> None:
    cache = ParseCache()
    cache.put("m1", "Баланс?", result("Баланс?"))
    assert cache.get("m1", "  баланс ") == result("Баланс?")
    assert cache.get("m2", "баланс") is None
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.hit_rate == 0.5


def test_least_recently_used_goes_first() -> None:
    cache = ParseCache(max_entries=2)
    cache.put("m", "a", result("a"))
    cache.put("m", "b", result("b"))
    assert cache.get("m", "a") is not None  # a is now the most recent
    cache.put("m", "c", result("c"))
    assert len(cache) == 2
    assert cache.get("m", "b") is None
    assert cache.get("m", "a") is not None and cache.get("m", "c") is not None


def test_put_replaces_and_clear_empties() -> None:
    cache = ParseCache()
    cache.put("m", "a", result("a"))
    cache.put("m", "A", result("A", "greet"))
    assert len(cache) == 1
    hit = cache.get("m", "a")
    assert hit is not None and hit.intent == "greet"
    cache.clear()
    assert len(cache) == 0


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ParseCache(max_entries=0)
