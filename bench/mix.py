"""The message mix (bench/mix.yml): loading with errors that name the file, weighted draws
("repeated": the same texts again and again) and all-unique but realistic variants ("unique")."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.cache import ParseCache, normalise_text

MIX_FILE = Path(__file__).resolve().parent / "mix.yml"
LANGUAGES = ("ru", "be", "en")

# Words people put around their question. A unique text is a mix text with a counter written in
# these words around it (never digits: the app does not cache texts with 5+ digits in a row, so
# a numeric counter would measure a different path and be unfair to the Rasa reference either
# way). Even positions of the counter go before the text, odd ones after it.
_PREFIXES = {
    "ru": (
        "подскажите", "скажите пожалуйста", "добрый день", "здравствуйте", "срочно", "извините",
        "помогите", "вопрос", "слушайте", "уважаемые", "девушка", "ребята", "ну", "так", "а",
    ),
    "be": (
        "падкажыце", "добры дзень", "прабачце", "дапамажыце", "пытанне", "слухайце", "вітаю",
        "шаноўныя", "ну", "дык",
    ),
    "en": (
        "hi", "hello", "quick question", "sorry", "help", "hey", "excuse me", "good morning",
        "so", "well",
    ),
}
_SUFFIXES = {
    "ru": (
        "пожалуйста", "срочно", "заранее спасибо", "очень надо", "спасибо", "побыстрее",
        "если можно", "сегодня", "прямо сейчас", "опять", "снова", "ещё раз", "жду ответа",
        "не понимаю", "помогите",
    ),
    "be": (
        "калі ласка", "тэрмінова", "дзякуй загадзя", "вельмі трэба", "сёння", "зараз", "зноў",
        "яшчэ раз", "чакаю адказу", "дзякуй",
    ),
    "en": (
        "please", "thanks", "asap", "thank you in advance", "today", "right now", "again",
        "urgently", "waiting for an answer", "cheers",
    ),
}
_TRAILING = "?!."


class MixError(ValueError):
    """bench/mix.yml (or the file given) is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class MixText:
    text: str
    lang: str
    weight: float


def load_mix(path: Path = MIX_FILE) -> tuple[MixText, ...]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MixError(f"{path}: cannot read the message mix: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise MixError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("texts"), list) or not raw["texts"]:
        raise MixError(f"{path}: expected a mapping with a non-empty list `texts:`")
    problems: list[str] = []
    texts: list[MixText] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw["texts"]):
        where = f"{path}: texts[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected {{text, lang, weight}}")
            continue
        unknown = sorted(set(item) - {"text", "lang", "weight"})
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
        text, lang, weight = item.get("text"), item.get("lang"), item.get("weight")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: `text` must be a non-empty string")
            continue
        if lang not in LANGUAGES:
            problems.append(f"{where} ({text!r}): `lang` must be one of {', '.join(LANGUAGES)}")
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            problems.append(f"{where} ({text!r}): `weight` must be a positive number")
            continue
        if not ParseCache.keeps(text):
            problems.append(
                f"{where} ({text!r}): five digits or more in a row; the app never caches such "
                "a text, so it does not belong in the mix"
            )
            continue
        key = normalise_text(text)
        if key in seen:
            problems.append(f"{where} ({text!r}): the same text as texts[{seen[key]}]")
            continue
        seen[key] = index
        texts.append(MixText(text, lang, float(weight)))
    if problems:
        raise MixError("\n".join(problems))
    return tuple(texts)


def repeated_texts(mix: Sequence[MixText], count: int, seed: int) -> list[str]:
    """``count`` texts drawn from the mix by weight: the traffic an NLU cache sees."""
    rng = random.Random(seed)
    return [t.text for t in rng.choices(mix, weights=[t.weight for t in mix], k=count)]


def counter_words(n: int, radices: Sequence[int]) -> list[int]:
    """``n`` >= 1 in bijective mixed-radix numeration (digit i has radix ``radices[i % len]``):
    every ``n`` gives a different, non-empty digit sequence."""
    if n < 1:
        raise ValueError("the counter starts at 1")
    digits: list[int] = []
    while n > 0:
        radix = radices[len(digits) % len(radices)]
        n -= 1
        digits.append(n % radix)
        n //= radix
    return digits


def uniquify(text: str, lang: str, n: int) -> str:
    """``text`` with the counter ``n`` written around it in everyday words."""
    prefixes, suffixes = _PREFIXES[lang], _SUFFIXES[lang]
    digits = counter_words(n, (len(prefixes), len(suffixes)))
    before = [prefixes[d] for d in digits[0::2]]
    after = [suffixes[d] for d in digits[1::2]]
    core = text.rstrip(_TRAILING)
    ending = text[len(core):]
    if before:
        # "Какой..." -> "подскажите, какой..."; English keeps its capitals ("hi, I'm in ...")
        first = core[:1] if lang == "en" else core[:1].lower()
        core = f"{', '.join(before)}, {first}{core[1:]}"
    if after:
        core = f"{core} {' '.join(after)}"
    return core + ending


class UniqueTexts:
    """An endless stream of texts no two of which are alike (after the cache's normalisation),
    and none equal to a text of the mix: every message is new to the NLU cache."""

    def __init__(self, mix: Sequence[MixText], seed: int) -> None:
        self._mix = list(mix)
        self._weights = [t.weight for t in mix]
        self._rng = random.Random(seed)
        self._counter = 0
        self._seen = {normalise_text(t.text) for t in mix}

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            self._counter += 1
            base = self._rng.choices(self._mix, weights=self._weights)[0]
            text = uniquify(base.text, base.lang, self._counter)
            key = normalise_text(text)
            if key not in self._seen:
                self._seen.add(key)
                return text

    def take(self, count: int) -> list[str]:
        return [next(self) for _ in range(count)]


_DIGIT_RUN = re.compile(r"[0-9]{5,}")


def has_long_digit_run(text: str) -> bool:
    """Five digits or more in a row (what the tests check the generator never emits)."""
    return _DIGIT_RUN.search(text) is not None or not ParseCache.keeps(text)
