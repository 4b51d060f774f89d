"""Pure-ASGI guards at the HTTP edge: a request body limit and default security headers.

:class:`BodyLimit` refuses a body larger than ``max_bytes`` with ``413`` before it is read:
a ``Content-Length`` over the limit is answered at once; a chunked (or lying) body is counted
as it streams and cut off past the limit. The answer carries ``Connection: close`` so the
server stops reading the rest instead of draining it.

:class:`SecurityHeaders` adds ``nosniff``, ``Referrer-Policy``, ``X-Frame-Options`` and a
deny-everything Content-Security-Policy with ``frame-ancestors 'none'`` to every response
that does not bring its own (the HTML pages set one that allows exactly their own assets).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", STRICT_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes the limit (after the 413 went out)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        guard = _Guard(self, receive, send)
        try:
            await self.app(scope, guard.receive, guard.send)
        except BodyTooLarge:
            pass  # the 413 is out; the app gave up reading, as it should

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": f"the request body is larger than {self.max_bytes} bytes"}
        ).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # uvicorn then closes instead of reading the rest
            ],
        })
        await send({"type": "http.response.body", "body": body})


class _Guard:
    """One request's counting ``receive`` and a ``send`` that goes quiet after a 413."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self._limit = limit
        self._receive = receive
        self._send = send
        self._seen = 0
        self._started = False
        self._refused = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > self._limit.max_bytes:
                if not self._started:
                    self._refused = True
                    await self._limit._refuse(self._send)
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self._refused:
            return  # the app's own error answer to the cut-off body: the 413 already went
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in DEFAULT_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length itself
    return None
