"""The load generator, run in its own process (``python -m bench.loadgen SPEC.json``) so that its
event loop never competes with the one it measures.

Closed loop: ``clients`` subscribers each send a message and wait for the answer before the
next. Open loop: messages leave on a fixed schedule (``rate`` per second) whether or not the
earlier ones were answered, and a latency counts from the scheduled moment, so a server that
falls behind is charged for the queue it builds (no coordinated omission).

Every message comes from a new subscriber. The generator prints ``MEASURE`` when the warm-up
ends and ``DONE`` when the measured window closes (the supervisor reads CPU times at those two
lines), then ``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

RESULT_PREFIX = "RESULT "
ABONENT_PATH = "/api/webchat/messages"
RASA_PATH = "/webhooks/rest/webhook"


@dataclass(frozen=True)
class LoadSpec:
    target: str  # "abonent" (web chat API) or "rasa" (Rasa's REST channel)
    url: str
    texts_file: str  # a JSON list of texts, used in order
    id_prefix: str  # subscriber ids are f"{id_prefix}-{n}", new for every message
    warmup: float
    duration: float
    clients: int = 0  # closed loop when > 0
    rate: float = 0.0  # open loop (messages per second) when > 0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.target not in ("abonent", "rasa"):
            raise ValueError(f"unknown target {self.target!r}")
        if (self.clients > 0) == (self.rate > 0):
            raise ValueError("give either clients (closed loop) or rate (open loop)")


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # answered with 200, in the window
    errors: int = 0  # non-200 answers, failed or timed-out requests, in the window
    empty: int = 0  # 200 with no reply at all (counted in latencies too)
    statuses: dict[str, int] = field(default_factory=dict)
    texts_used: int = 0
    texts_exhausted: bool = False  # the text list ran out and texts repeated


@dataclass(frozen=True)
class _Outcome:
    start: float  # when it was sent (closed) or scheduled (open)
    end: float
    status: str  # "200", "503", "error:ReadTimeout"...
    replied: bool


class _Texts:
    def __init__(self, texts: list[str]) -> None:
        if not texts:
            raise ValueError("no texts to send")
        self._texts = texts
        self.used = 0

    def next(self) -> tuple[int, str]:
        n = self.used
        self.used += 1
        return n, self._texts[n % len(self._texts)]

    @property
    def exhausted(self) -> bool:
        return self.used > len(self._texts)


class LoadGenerator:
    def __init__(self, spec: LoadSpec, http: httpx.AsyncClient, texts: list[str]) -> None:
        self.spec = spec
        self._http = http
        self._texts = _Texts(texts)
        self._outcomes: list[_Outcome] = []
        self._scheduled = 0  # open loop: messages scheduled so far

    async def _send(self, start: float) -> None:
        n, text = self._texts.next()
        sender = f"{self.spec.id_prefix}-{n}"
        if self.spec.target == "abonent":
            path, body = ABONENT_PATH, {"user_id": sender, "text": text}
        else:
            path, body = RASA_PATH, {"sender": sender, "message": text}
        loop = asyncio.get_running_loop()
        try:
            response = await self._http.post(self.spec.url + path, json=body)
            status, replied = str(response.status_code), False
            if response.status_code == 200:
                answer = response.json()
                replies = answer.get("replies") if isinstance(answer, dict) else answer
                replied = bool(replies)
        except (httpx.HTTPError, ValueError) as exc:
            status, replied = f"error:{type(exc).__name__}", False
        self._outcomes.append(_Outcome(start, loop.time(), status, replied))

    async def run(self) -> LoadResult:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        window = (begin + self.spec.warmup, begin + self.spec.warmup + self.spec.duration)
        marks = asyncio.create_task(self._mark(window))
        if self.spec.clients > 0:
            await asyncio.gather(*(self._client(window[1]) for _ in range(self.spec.clients)))
        else:
            await self._schedule(begin, window[1])
        await marks
        return self._result(window)

    async def _mark(self, window: tuple[float, float]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, window[0] - loop.time()))
        print("MEASURE", flush=True)
        await asyncio.sleep(max(0.0, window[1] - loop.time()))
        print("DONE", flush=True)

    async def _client(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        while (now := loop.time()) < until:
            await self._send(now)

    async def _schedule(self, begin: float, until: float) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.spec.rate
        tasks: set[asyncio.Task[None]] = set()
        k = 0
        while (due := begin + k * interval) < until:
            await asyncio.sleep(max(0.0, due - loop.time()))
            task = asyncio.create_task(self._send(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
        if tasks:  # requests unanswered even after the timeout count as errors (no outcome)
            await asyncio.wait(tasks, timeout=self.spec.timeout + 5)
            for task in list(tasks):
                task.cancel()
        self._scheduled = k

    def _result(self, window: tuple[float, float]) -> LoadResult:
        w0, w1 = window
        if self.spec.clients > 0:
            # closed loop: what completed inside the window (a steady state's throughput)
            measured = [o for o in self._outcomes if w0 <= o.end <= w1]
            missing = 0
        else:
            # open loop: everything scheduled inside the window, however late it was answered
            measured = [o for o in self._outcomes if w0 <= o.start < w1]
            interval = 1.0 / self.spec.rate
            begin = w0 - self.spec.warmup
            in_window = sum(
                1 for k in range(self._scheduled) if w0 <= begin + k * interval < w1
            )
            missing = in_window - len(measured)
        ok = [o for o in measured if o.status == "200"]
        statuses = Counter(o.status for o in measured)
        if missing:
            statuses["unanswered"] += missing
        return LoadResult(
            seconds=w1 - w0,
            latencies=[o.end - o.start for o in ok],
            errors=len(measured) - len(ok) + missing,
            empty=sum(1 for o in ok if not o.replied),
            statuses=dict(statuses),
            texts_used=self._texts.used,
            texts_exhausted=self._texts.exhausted,
        )


async def generate(spec: LoadSpec) -> LoadResult:
    texts = json.loads(Path(spec.texts_file).read_text(encoding="utf-8"))
    connections = spec.clients if spec.clients > 0 else 512
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=spec.timeout) as http:
        return await LoadGenerator(spec, http, texts).run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.loadgen SPEC.json", file=sys.stderr)
        return 2
    spec = LoadSpec(**json.loads(Path(args[0]).read_text(encoding="utf-8")))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(generate(spec))
    print(RESULT_PREFIX + json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
