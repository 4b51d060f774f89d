"""Throughput and latency of NluClient.parse, without and with the parse cache.

    python bench/bench_nlu.py --url http://127.0.0.1:5005 --token TOKEN [--n 300] [--concurrency 8]
    python bench/bench_nlu.py --fake [--fake-delay 0.010]      # no Rasa needed

The workload imitates real traffic: a few dozen everyday messages in Russian, Belarusian and
English with a Zipf-like popularity (a handful of texts make most of the traffic, in varying
case and punctuation) plus a long tail of unique messages that a cache cannot help with. Both
runs use the same sequence; the cached run starts with an empty cache.

``--fake`` starts tests/support/fake_rasa.py on loopback; by default it works one request at a
time for ``--fake-delay`` seconds, like a single Rasa process (about 100 parses/s on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlu import NluClient, ParseCache

if TYPE_CHECKING:
    from tests.support.fake_rasa import FakeAnswer

POPULAR = [
    "баланс",
    "Какой у меня баланс?",
    "сколько денег на счету",
    "Как узнать свой номер",
    "какой у меня номер телефона",
    "Хочу поговорить с оператором",
    "оператор",
    "позовите человека",
    "Подключить роуминг",
    "роуминг в Польше",
    "Не работает интернет в роуминге",
    "номер поддержки",
    "куда звонить из-за границы",
    "привет",
    "здравствуйте",
    "спасибо",
    "да",
    "нет",
    "пока",
    "Ужасная связь, хочу пожаловаться",
    "Як мне праверыць баланс?",
    "Які мой нумар?",
    "Дзякуй!",
    "Калі ласка, злучыце з аператарам",
    "роўмінг у Літве",
    "How do I check my balance?",
    "What is my number",
    "roaming in Poland",
    "talk to a human",
    "thanks",
]
TAIL = [
    "у меня списали {n} рублей, почему",
    "не приходит смс с кодом {n}",
    "номер +37529{n} не отвечает",
    "заказ {n} где мой роутер",
    "I was charged {n} BYN for nothing",
]
KEYWORDS = {
    "баланс": "check_balance",
    "денег": "check_balance",
    "balance": "check_balance",
    "номер": "my_number",
    "нумар": "my_number",
    "number": "my_number",
    "оператор": "human_request",
    "аператар": "human_request",
    "человек": "human_request",
    "human": "human_request",
    "роуминг": "roaming",
    "роўмінг": "roaming",
    "roaming": "roaming",
    "поддержк": "support_contacts",
    "звонить": "support_contacts",
    "жалова": "complaint",
    "привет": "greet",
    "здравств": "greet",
    "спасибо": "thanks",
    "дзякуй": "thanks",
    "thanks": "thanks",
    "пока": "goodbye",
}


def workload(n: int, seed: int, unique_share: float = 0.2) -> list[str]:
    """``n`` messages: popular ones by Zipf weight (with case/punctuation noise) plus a tail."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(POPULAR))]
    out = []
    for _ in range(n):
        if rng.random() < unique_share:
            out.append(rng.choice(TAIL).format(n=rng.randrange(10**6, 10**7)))
            continue
        text = rng.choices(POPULAR, weights)[0]
        variant = rng.random()
        if variant < 0.2:
            text = text.lower()
        elif variant < 0.3:
            text = text.rstrip("?!") + "!"
        out.append(text)
    return out


def fake_intent(text: str) -> FakeAnswer:
    """A keyword "model" for the fake server, so its answers look plausible."""
    from tests.support.fake_rasa import FakeAnswer

    lowered = text.lower()
    for key, intent in KEYWORDS.items():
        if key in lowered:
            return FakeAnswer(intent, 0.9)
    return FakeAnswer("nlu_fallback", 0.7, ranking=(("nlu_fallback", 0.7), ("complaint", 0.3)))


@dataclass(frozen=True)
class RunStats:
    mode: str
    n: int
    seconds: float
    latencies: tuple[float, ...]
    hits: int
    requests: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]


async def run(client: NluClient, mode: str, texts: list[str], concurrency: int) -> RunStats:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    requests_before = client.http_requests

    async def one(text: str) -> None:
        async with semaphore:
            started = time.perf_counter()
            await client.parse(text)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts))
    seconds = time.perf_counter() - started
    return RunStats(
        mode,
        len(texts),
        seconds,
        tuple(latencies),
        client.cache_hits,
        client.http_requests - requests_before,
    )


def table(rows: list[RunStats]) -> str:
    head = (
        f"{'mode':<12}{'parses':>7}{'seconds':>9}{'parses/s':>10}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'cache hits':>12}{'HTTP':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.mode:<12}{r.n:>7}{r.seconds:>9.2f}{r.n / r.seconds:>10.1f}"
            f"{1000 * r.percentile(50):>8.1f}{1000 * r.percentile(95):>8.1f}"
            f"{1000 * r.percentile(99):>8.1f}{f'{r.hits} ({100 * r.hits / r.n:.0f}%)':>12}"
            f"{r.requests:>6}"
        )
    return "\n".join(lines)


async def bench(url: str, token: str | None, n: int, concurrency: int, seed: int) -> None:
    texts = workload(n, seed)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as http:
        probe = NluClient(http, url, token)
        version = await probe.version()
        model = await probe.model_id()
        print(f"Rasa {version or '?'} at {url}, model {model}; {n} parses, {concurrency} at once")
        for text in POPULAR[:concurrency]:  # open the connections; not measured
            await probe.parse(text)
        rows = []
        for mode, cache in (("no cache", None), ("with cache", ParseCache())):
            client = NluClient(http, url, token, cache=cache)
            await client.model_id()
            rows.append(await run(client, mode, texts, concurrency))
    print(table(rows))


async def _bench_local(n: int, concurrency: int, seed: int) -> None:
    from bot.config import get_settings
    from bot.runtime import nlu_settings

    async with nlu_settings(get_settings()) as ready:
        assert ready.rasa_url is not None
        token = ready.rasa_token.get_secret_value() if ready.rasa_token else None
        await bench(ready.rasa_url, token, n, concurrency, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Rasa base URL, e.g. http://127.0.0.1:5005")
    parser.add_argument("--token", help="Rasa auth token (rasa run -t TOKEN)")
    parser.add_argument("--n", type=int, default=300, help="parses per run (default 300)")
    parser.add_argument("--concurrency", type=int, default=8, help="parses in flight (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument(
        "--fake", action="store_true", help="start tests/support/fake_rasa.py and use it"
    )
    parser.add_argument(
        "--local", action="store_true",
        help="RASA_URL if set, else train (if needed) and start the local Rasa server",
    )
    parser.add_argument(
        "--fake-delay",
        type=float,
        default=0.010,
        help="seconds the fake spends per request, one at a time (default 0.010)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.concurrency < 1:
        parser.error("--n and --concurrency must be at least 1")
    if args.fake:
        from tests.support.fake_rasa import FakeRasa

        token = args.token or "bench-token"
        with FakeRasa(token=token) as fake:
            fake.delay, fake.serial, fake.responder = args.fake_delay, True, fake_intent
            print(f"fake Rasa on {fake.url} ({args.fake_delay * 1000:g} ms/request, serial)")
            asyncio.run(bench(fake.url, token, args.n, args.concurrency, args.seed))
        return
    if args.local:
        asyncio.run(_bench_local(args.n, args.concurrency, args.seed))
        return
    if not args.url:
        parser.error("give --url (and --token), --local or --fake")
    asyncio.run(bench(args.url, args.token, args.n, args.concurrency, args.seed))


if __name__ == "__main__":
    main()
