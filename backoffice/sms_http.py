"""The operator's SMS gateway over HTTP (``SMS_GATEWAY_URL``), as a client.

The contract an integration team implements: ``POST {SMS_GATEWAY_URL}`` with exactly
``{"to": "+375291234567", "text": "..."}`` as JSON (``to`` in E.164 with "+"), and
``Authorization: Bearer {SMS_GATEWAY_TOKEN}`` when a token is set. Any 2xx means "accepted
for delivery"; the body of the answer is not read.

How a send behaves:

- ``to`` must be E.164 (:func:`bot.phones.is_e164`) and ``text`` non-empty, else ValueError
  before any request;
- 4xx (and 1xx/3xx: redirects are not followed) is a :class:`BackofficeError` at once: the
  request itself is wrong (bad token, bad number) and will be as wrong a second later;
- 5xx, connection errors and timeouts are retried ``retries`` times with a short back-off,
  then a :class:`BackofficeError`. A retry after a timeout may deliver the same text twice;
  for a one-time code that is harmless (the same code arrives twice), and it beats none;
- ``timeout`` bounds each attempt in all (connect, send, wait, read), not only one phase.

Nothing personal is logged or put in an exception message: the number, the text (it holds the
code) and the token never appear; the gateway is named by its host only (a path or query
string may carry a key). httpx's own request log line names the URL and the status, never
the body or the headers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from urllib.parse import urlsplit

import httpx

from bot.backoffice_contract import BackofficeError
from bot.phones import is_e164

__all__ = ["HttpSmsGateway"]

log = logging.getLogger(__name__)


class HttpSmsGateway:
    """:class:`bot.backoffice_contract.SmsGateway` over HTTP. Share one per process; it keeps
    no state between sends and is safe for concurrent use."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 1,
        backoff: float = 0.2,
    ) -> None:
        """``url``: the endpoint itself (the POST goes there, nothing is appended);
        ``timeout``: seconds per attempt; ``retries``: further attempts after a 5xx, a
        connection error or a timeout; ``backoff``: seconds before the first retry (doubling,
        with jitter)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("SMS gateway URL must be an http(s) URL with a host")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._http = http
        self.url = url
        self._token = token or None
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self._where = f"SMS gateway at {parts.hostname}"
        self._random = random.Random()

    def __repr__(self) -> str:
        token = "'***'" if self._token else "None"
        return f"HttpSmsGateway({self._where!r}, token={token})"

    async def send(self, to: str, text: str) -> None:
        """Hand ``text`` to the gateway for ``to``; raises BackofficeError when it cannot."""
        if not is_e164(to):
            raise ValueError("'to' must be an E.164 phone number: '+', the country code and "
                             "digits, no spaces")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the SMS text must be a non-empty string")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        body = {"to": to, "text": text}
        attempts = self.retries + 1
        problem = "no attempt made"
        for attempt in range(attempts):
            try:
                # httpx's timeout is per phase (connect, read...); the outer one bounds the sum
                async with asyncio.timeout(self.timeout):
                    response = await self._http.post(self.url, json=body, headers=headers,
                                                     timeout=self.timeout)
            except (httpx.TimeoutException, TimeoutError):
                problem = f"timed out after {self.timeout:.3g} s"
            except httpx.TransportError as exc:
                # the class only: some transport errors quote the URL, which may hold a key
                problem = f"{type(exc).__name__} (no answer)"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return
                if status < 500:
                    raise BackofficeError(f"{self._where} refused the message: HTTP {status}"
                                          f"{_hint(status)}")
                problem = f"HTTP {status}"
            if attempt + 1 < attempts:
                log.warning("%s: %s; retrying (%d of %d)", self._where, problem, attempt + 1,
                            self.retries)
                await asyncio.sleep(self.backoff * 2**attempt * self._random.uniform(0.5, 1.5))
        raise BackofficeError(f"{self._where} could not take the message: {problem} "
                              f"({attempts} attempt{'s' if attempts > 1 else ''})")


def _hint(status: int) -> str:
    if status in (401, 403):
        return " (check SMS_GATEWAY_TOKEN)"
    if 300 <= status < 400:
        return " (a redirect: set SMS_GATEWAY_URL to the final address)"
    return ""
