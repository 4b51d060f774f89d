"""A fake Rasa NLU server: real HTTP on 127.0.0.1, Rasa's shapes, and knobs to make it misbehave.

It imitates the three endpoints the app uses, as Rasa 3.6 answers them:

- ``POST /model/parse?token=T`` with ``{"text": ...}`` -> ``{"text", "intent", "entities",
  "text_tokens", "intent_ranking"}`` (no ``text`` -> 500, as Rasa does);
- ``GET /status?token=T`` -> ``{"model_file", "model_id", "num_active_training_jobs"}`` or 409
  when ``model_loaded`` is False;
- ``GET /version`` (no token) -> ``{"version", "minimum_compatible_version"}``.

A wrong or missing token answers 401 with Rasa's error body. Knobs, all safe to turn while it
runs: ``fail_next(n, status)``, ``drop_next(n)`` (close the connection mid-answer), ``delay``
(seconds before answering; with ``serial`` one request at a time, like Rasa's single CPU-bound
worker), ``answer(...)`` / ``answer_fallback(...)`` (what to predict, per text
or by default), ``model_id`` / ``model_loaded``, and the request log (``count(path)``).
``stop()`` then ``restart()`` takes it down and brings it back on the same URL.

It runs uvicorn in a daemon thread, so a test's event loop is never blocked by the server's
sleeping, and a plain script (``bench/bench_nlu.py --fake``) can use it too::

    with FakeRasa(token="secret") as rasa:
        rasa.answer("check_balance", 0.93)
        ...  # point NluClient at rasa.url
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs

import uvicorn

__all__ = ["FAKE_RASA_TOKEN", "FakeAnswer", "FakeRasa", "FakeRequest"]

FALLBACK = "nlu_fallback"
ASGIMessage = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[ASGIMessage], Any]

# the token the NLU client tests start the fake with (tests/nlu/conftest.py) and look for
FAKE_RASA_TOKEN = "s3cret-token"


@dataclass(frozen=True)
class FakeAnswer:
    """What the fake predicts: ``ranking`` defaults to the intent alone."""

    intent: str
    confidence: float = 0.95
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[dict[str, Any], ...] = ()

    def to_rasa(self, text: str) -> dict[str, Any]:
        ranking = self.ranking or ((self.intent, self.confidence),)
        return {
            "text": text,
            "intent": {"name": self.intent, "confidence": self.confidence},
            "entities": [dict(e) for e in self.entities],
            "text_tokens": _tokens(text),
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        }


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    token: str | None
    body: Any = None


@dataclass
class _Fault:
    remaining: int
    kind: str  # "status" | "drop"
    status: int = 500
    path: str | None = None


class _Dropped(Exception):
    """Raised inside the app after the headers went out: uvicorn then closes the connection."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _Dropped)


_quiet = _QuietDrops()


@dataclass(eq=False)
class FakeRasa:
    """A fake Rasa server (see the module doc). ``url`` is set once it has started."""

    token: str | None = "secret"
    model_id: str = "model-1"
    version: str = "3.6.21"
    model_loaded: bool = True
    delay: float = 0.0
    serial: bool = False
    default: FakeAnswer = field(default_factory=lambda: FakeAnswer("greet", 0.9))
    answers: dict[str, FakeAnswer] = field(default_factory=dict, repr=False)
    responder: Callable[[str], FakeAnswer | None] | None = None
    url: str = ""
    requests: list[FakeRequest] = field(default_factory=list, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _initial: dict[str, Any] = field(default_factory=dict, repr=False)
    _busy: asyncio.Lock | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._initial = {"token": self.token, "model_id": self.model_id, "version": self.version}

    # -- knobs ---------------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, *, path: str | None = None) -> None:
        """Answer the next ``n`` requests (to ``path`` only, if given) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(n, "status", status, path))

    def drop_next(self, n: int, *, path: str | None = None) -> None:
        """Close the connection of the next ``n`` requests before a complete answer."""
        with self._lock:
            self._faults.append(_Fault(n, "drop", path=path))

    def answer(
        self,
        intent: str,
        confidence: float = 0.95,
        *,
        ranking: list[tuple[str, float]] | None = None,
        entities: list[dict[str, Any]] | None = None,
        text: str | None = None,
    ) -> FakeAnswer:
        """Predict ``intent`` for ``text`` (exact match), or for every other text when None."""
        ans = FakeAnswer(intent, confidence, tuple(ranking or ()), tuple(entities or ()))
        if text is None:
            self.default = ans
        else:
            self.answers[text] = ans
        return ans

    def answer_fallback(
        self, ranking: list[tuple[str, float]], *, threshold: float = 0.7, text: str | None = None
    ) -> FakeAnswer:
        """Answer as Rasa's FallbackClassifier does: ``nlu_fallback`` at the threshold on top of
        the real (low) ranking."""
        full = [(FALLBACK, threshold), *sorted(ranking, key=lambda x: -x[1])]
        return self.answer(FALLBACK, threshold, ranking=full, text=text)

    def count(self, path: str | None = None) -> int:
        """Requests received (to ``path``, if given), faulted ones included."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def reset(self) -> None:
        """Back to a well-behaved server with an empty request log."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
        self.token = self._initial["token"]
        self.model_id = self._initial["model_id"]
        self.version = self._initial["version"]
        self.model_loaded = True
        self.delay = 0.0
        self.serial = False
        self.default = FakeAnswer("greet", 0.9)
        self.answers = {}
        self.responder = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        """Start listening, on ``port`` if given (else a free one)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_quiet)
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-rasa", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Rasa server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def restart(self) -> Self:
        """Come back on the same URL after :meth:`stop` (a Rasa server restarted)."""
        if not self.url:
            raise RuntimeError("restart() needs a server that was started once")
        self.stop()
        return self.start(int(self.url.rsplit(":", 1)[1]))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the ASGI app --------------------------------------------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path in (None, path):
                    fault.remaining -= 1
                    return fault
        return None

    async def _work(self) -> None:
        if not self.serial:
            await asyncio.sleep(self.delay)
            return
        if self._busy is None:
            self._busy = asyncio.Lock()  # created in the server's own loop
        async with self._busy:
            await asyncio.sleep(self.delay)

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode())
        token = query.get("token", [None])[0]
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(FakeRequest(method, path, token, body))
        fault = self._take_fault(path)  # decided on arrival, so a slow request cannot steal it
        if self.delay:
            await self._work()
        if fault is not None and fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise _Dropped
        if fault is not None:
            error = _error(fault.status, "InternalError", "injected failure")
            await _send_json(send, fault.status, error)
            return
        status, payload = self._route(method, path, token, body)
        await _send_json(send, status, payload)

    def _route(self, method: str, path: str, token: str | None, body: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/version"):
            return 200, {"version": self.version, "minimum_compatible_version": "3.5.0"}
        if (method, path) not in {("GET", "/status"), ("POST", "/model/parse")}:
            return 404, _error(404, "NotFound", f"Requested URL {path} not found")
        if self.token is not None and token != self.token:
            return 401, _error(401, "NotAuthenticated", "User is not authenticated.")
        if not self.model_loaded:
            return 409, _error(
                409,
                "Conflict",
                "No agent loaded. To continue processing, a "
                "model of a trained agent needs to be loaded.",
            )
        if path == "/status":
            return 200, {
                "model_file": f"models/{self.model_id}.tar.gz",
                "model_id": self.model_id,
                "num_active_training_jobs": 0,
            }
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return 500, _error(500, "ParsingError", "An unexpected error occurred. Error: 'text'")
        text = body["text"]
        ans = self.responder(text) if self.responder else None
        ans = ans or self.answers.get(text) or self.default
        return 200, ans.to_rasa(text)


def _error(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "version": "3.6.21",
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": {},
        "help": None,
        "code": code,
    }


async def _send_json(send: Send, status: int, payload: Any) -> None:
    data = json.dumps(payload, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _tokens(text: str) -> list[list[int]]:
    out, pos = [], 0
    for word in text.split():
        start = text.index(word, pos)
        pos = start + len(word)
        out.append([start, pos])
    return out
