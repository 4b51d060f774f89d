"""Several Rasa servers behind one client: which server the next request goes to.

``RASA_URL`` may list several servers, separated by commas (:func:`parse_server_urls`). Each
server has its own circuit breaker, so a dead one is skipped while the others keep answering.
A request goes to the server with the fewest requests in flight, ties broken round-robin (so
sequential requests take turns, and a server that answers slowly gets fewer); a server whose
breaker is open is left out until its half-open probe is due. The retry loop itself lives in
:mod:`nlu.client`; it asks :meth:`ServerPool.take` for a server it has not tried yet first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from nlu.breaker import CircuitBreaker

__all__ = ["BreakerSource", "ServerPool", "Upstream", "parse_server_urls", "shown_url"]

BreakerSource = CircuitBreaker | Callable[[], CircuitBreaker] | None
"""One breaker (the first server gets it, the others a :meth:`~CircuitBreaker.twin` each), a
factory called once per server, or None for no breakers at all."""

_EXAMPLE = "http://10.0.0.1:5005,http://10.0.0.2:5005"
_TOKEN = re.compile(r"([?&]token=)[^&#\s]*")


def shown_url(url: str) -> str:
    """``url`` fit for logs and error messages: a password or token in it is masked."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        url = url.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[1], 1)
    return _TOKEN.sub(r"\1***", url)


def parse_server_urls(value: str) -> tuple[str, ...]:
    """The Rasa server URLs in ``value`` (comma-separated), without trailing slashes.

    ValueError names the first bad URL (masked: it may hold a token) and says what is expected."""
    urls = [part.strip().rstrip("/") for part in value.split(",")]
    urls = [url for url in urls if url]
    if not urls:
        raise ValueError(f"no Rasa server URL given; expected e.g. {_EXAMPLE}")
    for number, url in enumerate(urls, start=1):
        problem = _url_problem(url)
        if problem is None and url in urls[: number - 1]:
            problem = "it is listed twice"
        if problem is not None:
            where = f" (server {number} of {len(urls)})" if len(urls) > 1 else ""
            raise ValueError(
                f"{shown_url(url)!r}{where} is not a usable Rasa URL: {problem}; expected "
                f"http(s)://host:port, several separated by commas ({_EXAMPLE})"
            )
    return tuple(urls)


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if parts.query or parts.fragment:
        return "it must not carry a query (?...) or fragment; the token goes in RASA_TOKEN"
    return None


@dataclass(eq=False)
class Upstream:
    """One Rasa server of the pool."""

    url: str
    breaker: CircuitBreaker | None
    in_flight: int = 0

    @property
    def name(self) -> str:
        """The URL as logs, errors and /readyz show it."""
        return shown_url(self.url)

    def would_allow(self) -> bool:
        return self.breaker is None or self.breaker.would_allow()

    def allow(self) -> bool:
        return self.breaker is None or self.breaker.allow()

    def record(self, *, ok: bool) -> None:
        if self.breaker is None:
            return
        if ok:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()


class ServerPool:
    """The servers and the choice among them. Not thread-safe; fine for one event loop."""

    def __init__(self, urls: tuple[str, ...], breaker: BreakerSource = None) -> None:
        if not urls:
            raise ValueError("a Rasa pool needs at least one server")
        self.servers = tuple(
            Upstream(url, _breaker_for(breaker, first=index == 0))
            for index, url in enumerate(urls)
        )
        self._next = 0

    def __len__(self) -> int:
        return len(self.servers)

    def _order(self, tried: Collection[Upstream]) -> list[Upstream]:
        """Untried servers first, then the fewest requests in flight; ties round-robin."""
        count = len(self.servers)
        rotated = [self.servers[(self._next + i) % count] for i in range(count)]
        return sorted(rotated, key=lambda s: (s in tried, s.in_flight))

    def peek(self, tried: Collection[Upstream] = ()) -> Upstream | None:
        """The server :meth:`take` would give now, without taking a half-open probe."""
        return next((s for s in self._order(tried) if s.would_allow()), None)

    def take(self, tried: Collection[Upstream] = ()) -> Upstream | None:
        """A server for the next request (its breaker let it through), preferring one not in
        ``tried``; None when every breaker is open."""
        for server in self._order(tried):
            if server.allow():
                self._next = (self.servers.index(server) + 1) % len(self.servers)
                return server
        return None

    def untried_available(self, tried: Collection[Upstream]) -> int:
        """How many servers not in ``tried`` would take a request now."""
        return sum(1 for s in self.servers if s not in tried and s.would_allow())


def _breaker_for(source: BreakerSource, *, first: bool) -> CircuitBreaker | None:
    if source is None:
        return None
    if isinstance(source, CircuitBreaker):
        # the caller's own breaker stays in use (it may watch it); the others are its twins
        return source if first else source.twin()
    return source()
