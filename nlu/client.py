"""The app's way to Rasa: ``POST /model/parse`` over HTTP, with a cache, retries and breakers,
to one Rasa server or to a pool of them (``RASA_URL`` with several URLs, comma-separated).

``NluClient.parse(text)`` returns an :class:`~nlu.results.NluResult`. What happens on the way:

0. the text is normalised (:mod:`nlu.normalize`: Latin-typed Russian/Belarusian to Cyrillic,
   repeated letters, emoji): Rasa and the cache see the normalised text, the result shows the
   original (entity offsets mapped back onto it);
1. the language is detected here (:func:`nlu.lang.detect_language`) on the normalised text,
   never asked of Rasa; a transliterated message is Russian or Belarusian even under an
   ``en`` hint (a channel's hint is the app's language, not the message's);
2. the loaded model's id is known (``GET /status``, remembered for ``model_id_ttl`` seconds);
3. the cache is consulted with (model id, text): a hit costs no HTTP request at all (the only
   request a hit can cost is the ``/status`` refresh, once per ``model_id_ttl``);
4. otherwise ``POST /model/parse?token=...``: connection errors, timeouts and 5xx are retried
   with exponential back-off and jitter; a 4xx or unreadable JSON raises
   :class:`~nlu.errors.NluBadResponse` at once; an open circuit breaker raises
   :class:`~nlu.errors.NluUnavailable` without touching the network;
   with several servers (:mod:`nlu.pool`) each has its own breaker, a request goes to the one
   with the fewest requests in flight (ties round-robin), a retry goes to a server not yet tried
   for this request (back-off only when it must go back to one already tried), and each try
   leaves time in the budget for the servers still untried, so a hanging server cannot eat it
   all; a server with no model loaded (409) is routed around too; only when every breaker is
   open does ``parse`` fail at once;
5. all of it, the ``/status`` refresh, every request (each at most ``timeout`` seconds), retry
   and back-off, fits in one deadline of ``budget`` seconds (3 s by default), so a refused,
   hanging or failing Rasa costs a subscriber at most that long, and the breaker makes later
   messages fail at once;
6. when Rasa gives no understanding (:class:`~nlu.errors.NluError`) and the client was given a
   keyword matcher (the app gives it the knowledge base's, ``knowledge_base/keywords.py``; the evaluation and ``abonent nlu parse``
   must see Rasa's own errors, so it is off by default), the degraded mode answers from
   keywords: a message with a keyword gets a result marked
   ``model_id="keywords"``; any other message raises the error as before.

If ``/status`` cannot be refreshed but a model id is already known, the old id is used, so
cached answers keep flowing while Rasa is down. The token travels as the ``token`` query
parameter (Rasa's own scheme); it never appears in messages, ``repr`` or httpx's request log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import replace
from enum import StrEnum
from typing import Any

import httpx

from nlu.breaker import CircuitBreaker
from nlu.cache import ParseCache
from nlu.errors import NluBadResponse, NluError, NluUnavailable
from nlu.lang import detect_language
from nlu.normalize import Normalized, normalize
from nlu.pool import BreakerSource, ServerPool, Upstream, parse_server_urls
from nlu.redact import install_token_redaction, redact_token
from nlu.results import Entity, KeywordFallback, NluResult

__all__ = ["NluClient", "ServerState"]

log = logging.getLogger(__name__)

_HOW_TO_START = "start it with `abonent nlu serve` or set RASA_URL to a running Rasa server"
DEFAULT_BUDGET = 3.0
"""Seconds one parse may spend on Rasa in all: a subscriber's answer is due within 5 s."""
class ServerState(StrEnum):
    """What one server answered a readiness probe (``GET /status``)."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    NO_MODEL = "no model loaded"
    TOKEN_REFUSED = "token refused"
    BAD_ANSWER = "unexpected answer"


class NluClient:
    """Parses texts through Rasa (one server or a pool). Share one per process; it is safe for
    concurrent use."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: str | None = None,
        *,
        retries: int = 2,
        backoff: float = 0.2,
        timeout: float = 5.0,
        breaker: BreakerSource = None,
        cache: ParseCache | None = None,
        model_id_ttl: float = 60.0,
        budget: float = DEFAULT_BUDGET,
        keywords: KeywordFallback | None = None,
    ) -> None:
        """``base_url``: one Rasa URL or several, comma-separated (ValueError names a bad one);
        ``timeout``: seconds per HTTP request; ``budget``: seconds one ``parse`` may spend on
        Rasa in all, retries and back-off included; ``breaker``: one breaker (the first server
        uses it, every other server gets a twin), a factory called once per server, or None;
        ``keywords``: the degraded mode's matcher (None: ``parse`` only raises when Rasa cannot
        answer)."""
        self._http = http
        self._pool = ServerPool(parse_server_urls(base_url), breaker)
        self.base_url = ",".join(server.url for server in self._pool.servers)
        self._token = token or None
        self.retries = max(0, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.cache = cache
        self.model_id_ttl = model_id_ttl
        self.budget = budget
        self.keywords = keywords
        self.calls = 0
        """parse() calls, answered from the cache or not."""
        self.cache_hits = 0
        """parse() calls answered from the cache."""
        self.http_requests = 0
        """HTTP requests sent (each retry counts)."""
        self.keyword_answers = 0
        """parse() calls answered by keywords because Rasa gave no understanding."""
        self._model_id: str | None = None
        self._model_id_at = float("-inf")
        self._model_lock = asyncio.Lock()
        self._random = random.Random()
        if self._token:
            install_token_redaction(__name__)

    def __repr__(self) -> str:
        token = "'***'" if self._token else "None"
        urls = ",".join(server.name for server in self._pool.servers)
        return f"NluClient({urls!r}, token={token})"

    @property
    def servers(self) -> tuple[Upstream, ...]:
        """The Rasa servers, in ``RASA_URL``'s order, each with its breaker."""
        return self._pool.servers

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The first server's breaker (the only one with one server); see :attr:`servers`."""
        return self._pool.servers[0].breaker

    @property
    def _where(self) -> str:
        if len(self._pool) == 1:
            return f"Rasa at {self._pool.servers[0].name}"
        return f"the {len(self._pool)} Rasa servers ({self._names(self._pool.servers)})"

    @staticmethod
    def _names(servers: Iterable[Upstream]) -> str:
        return ", ".join(server.name for server in servers)

    # -- public API ---------------------------------------------------------------------------

    async def parse(self, text: str, lang_hint: str | None = None) -> NluResult:
        """Understand ``text`` within the budget; when Rasa cannot, by keywords if one matches.

        Raises NluUnavailable or NluBadResponse (see nlu.errors) when neither can."""
        self.calls += 1
        norm = normalize(text)
        if norm.lang_hint is not None and (lang_hint or "")[:2].lower() not in ("ru", "be"):
            lang_hint = norm.lang_hint
        lang = detect_language(norm.text_for_nlu, lang_hint)
        try:
            return _on_original(await self._parse_by_rasa(norm.text_for_nlu, lang), norm)
        except NluError:
            fallback = (
                self.keywords.match(norm.text_for_nlu, lang) if self.keywords is not None else None
            )
            if fallback is None:
                raise
            self.keyword_answers += 1
            log.info("Rasa gave no understanding; answered by keywords as %s", fallback.intent)
            return _on_original(fallback, norm)

    async def _parse_by_rasa(self, text: str, lang: str) -> NluResult:
        deadline = asyncio.get_running_loop().time() + self.budget
        model_id = await self._current_model_id(allow_stale=True, deadline=deadline)
        if self.cache is not None:
            hit = self.cache.get(model_id, text)
            if hit is not None:
                self.cache_hits += 1
                return _rebase(hit, text, lang)
        server, response = await self._send(
            "POST", "/model/parse", json_body={"text": text}, deadline=deadline
        )
        payload = self._json(response, "/model/parse", server)
        try:
            result = NluResult.from_rasa(payload, text=text, lang=lang, model_id=model_id)
        except ValueError as exc:
            raise NluBadResponse(
                f"Rasa at {server.name} answered /model/parse with {exc}"
            ) from exc
        if self.cache is not None:
            self.cache.put(model_id, text, result)
        return result

    async def model_id(self) -> str:
        """The loaded model's id (``GET /status``), remembered for ``model_id_ttl`` seconds."""
        return await self._current_model_id(allow_stale=False)

    @property
    def _probe_timeout(self) -> float:
        # a readiness probe (ready, then version) must answer within one parse budget in all
        return min(self.timeout, self.budget / 2)

    async def ready(self) -> bool:
        """True when at least one server answers ``/status`` with 200 and a loaded model.
        One try per server, all at once, no breaker."""
        states = await self.check_servers()
        return ServerState.OK in states.values()

    async def check_servers(self) -> dict[str, ServerState]:
        """Each server's answer to ``GET /status`` (one try each, all at once, no breaker),
        by its URL as :attr:`Upstream.name` shows it, in ``RASA_URL``'s order."""
        states = await asyncio.gather(*(self._probe(server) for server in self._pool.servers))
        return {server.name: state for server, state in zip(self._pool.servers, states, strict=True)}

    async def _probe(self, server: Upstream) -> ServerState:
        self.http_requests += 1
        try:
            response = await self._http.get(
                server.url + "/status", params=self._params(), timeout=self._probe_timeout
            )
        except httpx.HTTPError:
            return ServerState.UNREACHABLE
        if response.status_code in (401, 403):
            return ServerState.TOKEN_REFUSED
        if response.status_code == 409:
            return ServerState.NO_MODEL
        if response.status_code != 200:
            return ServerState.BAD_ANSWER
        try:
            self._remember_model_id(_model_id_from_status(response.json()))
        except (TypeError, ValueError):
            return ServerState.BAD_ANSWER
        return ServerState.OK

    async def version(self) -> str | None:
        """Rasa's version from ``GET /version`` (needs no token) of the first server in
        ``RASA_URL``'s order that answers, or None when none does."""
        versions = await asyncio.gather(*(self._version(s) for s in self._pool.servers))
        return next((version for version in versions if version is not None), None)

    async def _version(self, server: Upstream) -> str | None:
        self.http_requests += 1
        try:
            response = await self._http.get(server.url + "/version", timeout=self._probe_timeout)
            if response.status_code != 200:
                return None
            version = response.json().get("version")
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return str(version) if version else None

    # -- model id -----------------------------------------------------------------------------

    def _model_id_fresh(self) -> bool:
        return (
            self._model_id is not None and time.monotonic() - self._model_id_at < self.model_id_ttl
        )

    def _remember_model_id(self, model_id: str) -> None:
        if self._model_id is not None and model_id != self._model_id:
            log.info("Rasa model changed: %s -> %s", self._model_id, model_id)
        self._model_id = model_id
        self._model_id_at = time.monotonic()

    async def _current_model_id(self, *, allow_stale: bool, deadline: float | None = None) -> str:
        if self._model_id_fresh():
            assert self._model_id is not None
            return self._model_id
        stale = self._model_id if allow_stale else None
        try:
            # Behind a refresh that hangs, waiting for the lock must not outlast the deadline.
            async with asyncio.timeout_at(deadline):
                await self._model_lock.acquire()
        except TimeoutError:
            if stale is not None:
                return stale
            raise NluUnavailable(
                f"{self._where} did not answer /status in time; {_HOW_TO_START}"
            ) from None
        try:
            if self._model_id_fresh():
                assert self._model_id is not None
                return self._model_id
            stale = self._model_id if allow_stale else None
            refresh_deadline = deadline
            if stale is not None and deadline is not None:
                # With an old id to fall back on, the refresh may use half of what is left:
                # the parse itself needs the rest.
                now = asyncio.get_running_loop().time()
                refresh_deadline = now + max(0.0, deadline - now) / 2
            try:
                # With an old id to fall back on, one quick try is enough.
                server, response = await self._send(
                    "GET", "/status", retries=0 if stale is not None else None,
                    deadline=refresh_deadline,
                )
                payload = self._json(response, "/status", server)
                try:
                    model_id = _model_id_from_status(payload)
                except (TypeError, ValueError) as exc:
                    raise NluBadResponse(
                        f"Rasa at {server.name} answered /status with {exc}"
                    ) from exc
            except NluUnavailable as exc:
                if stale is None:
                    raise
                log.warning("cannot refresh the Rasa model id, using %s: %s", stale, exc)
                return stale
            self._remember_model_id(model_id)
            return model_id
        finally:
            self._model_lock.release()

    # -- HTTP ---------------------------------------------------------------------------------

    def _params(self) -> dict[str, str]:
        return {"token": self._token} if self._token else {}

    def _delay(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt) * self._random.uniform(0.5, 1.5))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        retries: int | None = None,
        deadline: float | None = None,
    ) -> tuple[Upstream, httpx.Response]:
        """One logical request and the server that answered it: retried on transport errors,
        timeouts and 5xx on the next server not yet tried (on the same one, after a back-off,
        only when no other can take it), each server guarded by its breaker, and over by
        ``deadline`` (the event loop's clock) whatever happens."""
        loop = asyncio.get_running_loop()
        attempts = (self.retries if retries is None else retries) + 1
        failed: dict[Upstream, str] = {}  # server -> what went wrong there, this request
        out_of_time = False
        made = backoffs = 0
        while made < attempts:
            following = self._pool.peek(failed) if made else None
            if following is not None and following in failed:
                # every server that could take it has failed already: back off before going back
                delay = self._delay(backoffs)
                backoffs += 1
                if deadline is not None and loop.time() + delay >= deadline:
                    break  # no time left for another try
                await asyncio.sleep(delay)
            timeout = self.timeout
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:  # checked first: a half-open breaker's probe is not wasted
                    out_of_time = True
                    break
                # leave time for the servers still untried: a hanging one must not take it all
                untried = self._pool.untried_available(failed)
                timeout = min(timeout, left / max(1, min(attempts - made, untried)))
            server = self._pool.take(failed)
            if server is None:
                raise NluUnavailable(self._all_open(path, failed))
            made += 1
            self.http_requests += 1
            server.in_flight += 1
            try:
                # httpx's timeout is per phase (connect, read...); the outer one bounds the sum.
                async with asyncio.timeout(timeout):
                    response = await self._http.request(
                        method,
                        server.url + path,
                        params=self._params(),
                        json=json_body,
                        timeout=timeout,
                    )
            except (httpx.TimeoutException, TimeoutError):
                problem = f"timed out after {timeout:.3g} s"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {redact_token(str(exc)) or 'connection failed'}"
            else:
                status = response.status_code
                if status < 500 and status != 409:
                    server.record(ok=True)
                    return server, self._check_status(response, path, server)
                problem = f"HTTP {status}"
                if status == 409:
                    # this server has no model; another one may (a pool mid-deploy)
                    server.record(ok=False)
                    failed.pop(server, None)
                    failed[server] = "no model loaded (HTTP 409)"
                    if not self._pool.untried_available(failed):
                        self._check_status(response, path, server)  # raises, saying what to do
                    continue
            finally:
                server.in_flight -= 1
            server.record(ok=False)
            failed.pop(server, None)  # re-inserted: the message lists servers by last failure
            failed[server] = problem
        raise NluUnavailable(self._unreachable(path, made, failed, out_of_time))

    def _unreachable(
        self, path: str, made: int, failed: dict[Upstream, str], out_of_time: bool
    ) -> str:
        problems = [*failed.values()] if len(self._pool) == 1 else [
            f"{server.name}: {problem}" for server, problem in failed.items()
        ]
        if out_of_time or not problems:
            problems.append("out of time")
        skipped = [s for s in self._pool.servers if s not in failed and not s.would_allow()]
        if skipped:
            problems.append(f"circuit open: {self._names(skipped)}")
        where = (
            f"Rasa at {self._pool.servers[0].name}{path}" if len(self._pool) == 1
            else f"any of the {len(self._pool)} Rasa servers for {path}"
        )
        return (
            f"cannot reach {where} after {made} attempt(s) ({'; '.join(problems)}); "
            f"{_HOW_TO_START}"
        )

    def _all_open(self, path: str, failed: dict[Upstream, str]) -> str:
        """Every breaker is open: which servers, when they will be tried again, and what went
        wrong with those tried for this very request."""
        waits = [
            f"{server.name} (again in {server.breaker.retry_in():.0f} s)"
            for server in self._pool.servers if server.breaker is not None
        ]
        now = "; ".join(f"{server.name}{path}: {problem}" for server, problem in failed.items())
        return (
            f"Rasa failed repeatedly at {', '.join(waits)}: not trying again until then "
            f"(circuit open){'; just now ' + now if now else ''}. Is it running? {_HOW_TO_START}"
        )

    def _check_status(
        self, response: httpx.Response, path: str, server: Upstream
    ) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        where = f"Rasa at {server.name}{path}"
        if status in (401, 403):
            hint = "" if self._token else " (no token was given)"
            raise NluBadResponse(
                f"{where} refused the token (HTTP {status}){hint}: set RASA_TOKEN to the token "
                "the Rasa server was started with (`rasa run ... -t TOKEN`)"
            )
        if status == 409:
            raise NluUnavailable(
                f"{where}: the server is up but has no model loaded (HTTP 409); "
                "train one with `abonent nlu train` and restart it"
            )
        if status == 404:
            raise NluBadResponse(
                f"{where} not found (HTTP 404): does RASA_URL point at a Rasa server "
                "started with --enable-api?"
            )
        body = redact_token(response.text[:200])
        raise NluBadResponse(f"{where} rejected the request (HTTP {status}): {body}")

    def _json(self, response: httpx.Response, path: str, server: Upstream) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise NluBadResponse(
                f"Rasa at {server.name}{path} answered with something that is not JSON: "
                f"{redact_token(response.text[:200])!r}"
            ) from exc


def _model_id_from_status(payload: Any) -> str:
    """The model's identity from ``/status``: ``model_id`` (Rasa 3), ``fingerprint`` (Rasa 2),
    else ``model_file``."""
    if not isinstance(payload, dict):
        raise TypeError(f"a {type(payload).__name__}, not a JSON object")
    for key in ("model_id", "fingerprint", "model_file"):
        value = payload.get(key)
        if not value:
            continue
        if isinstance(value, dict | list):
            digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
            return f"fp-{digest[:16]}"
        return str(value)
    raise ValueError("no model_id, fingerprint or model_file")


def _rebase(hit: NluResult, text: str, lang: str) -> NluResult:
    """A cached result for a text that normalises the same: its own text, language, offsets."""
    if hit.text == text and hit.lang == lang:
        return hit
    entities = hit.entities
    if hit.text != text:
        entities = tuple(_relocate(e, text) for e in entities)
    return replace(hit, text=text, lang=lang, entities=entities)


def _relocate(entity: Entity, text: str) -> Entity:
    needle = entity.text.casefold().replace("ё", "е")
    haystack = text.casefold().replace("ё", "е")
    if not needle or len(needle) != len(entity.text) or len(haystack) != len(text):
        return entity
    start = haystack.find(needle)
    if start < 0:
        return entity
    end = start + len(needle)
    return replace(entity, text=text[start:end], start=start, end=end)


def _on_original(result: NluResult, norm: Normalized) -> NluResult:
    """A result about ``norm.text_for_nlu`` told about the original text: its entities'
    offsets and surface text mapped back onto what the subscriber typed."""
    if result.text == norm.original:
        return result
    entities = []
    for entity in result.entities:
        start, end = norm.to_original(entity.start, entity.end)
        entities.append(replace(entity, text=norm.original[start:end], start=start, end=end))
    return replace(result, text=norm.original, entities=tuple(entities))
