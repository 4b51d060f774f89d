"""One aioimaplib session for the mailbox reader (``imap_reader``): connect (ssl, starttls or
plain), LOGIN, SELECT, and the few commands the reader needs, each raced against the
connection-lost callback and a timeout, failures turned into :class:`ImapError` whose text is
safe to log (aioimaplib's own texts may quote the LOGIN command).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import Awaitable
from typing import Any

import aioimaplib  # type: ignore[import-untyped]

from channels.email.options import ImapOptions

log = logging.getLogger(__name__)

LOGOUT_TIMEOUT = 2.0
_DEFAULT = -1.0  # "the connection's own timeout" for ImapConnection.call

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.IGNORECASE)
_EXISTS = re.compile(rb"\*\s+(\d+)\s+EXISTS\b", re.IGNORECASE)
_EXPUNGE = re.compile(rb"\*\s+\d+\s+EXPUNGE\b", re.IGNORECASE)
_BYE = re.compile(rb"\*\s+BYE\b", re.IGNORECASE)
_CODE = re.compile(rb"^\[([A-Z0-9-]+)")
_BODY_LITERAL = re.compile(rb"BODY\[\]\s*\{\d+\}$", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)


class ImapError(Exception):
    """The IMAP session cannot go on (refused, lost, timed out); the text is safe to log."""


class ImapConnection:
    """One aioimaplib session: every command raced against the connection-lost event and a
    timeout, failures turned into :class:`ImapError`."""

    def __init__(self, options: ImapOptions, timeout: float) -> None:
        self._options = options
        self._timeout = timeout
        self._client: Any = None
        self.lost = asyncio.Event()
        self.changed = asyncio.Event()  # the message count grew since the last clear()
        self.uidvalidity = 0
        self.uidnext: int | None = None
        self._count: int | None = None

    @property
    def can_idle(self) -> bool:
        return self._client is not None and bool(self._client.has_capability("IDLE"))

    async def open(self) -> None:
        """Connect, (STARTTLS,) LOGIN, SELECT."""
        options = self._options
        context = ssl.create_default_context() if options.security != "none" else None
        client = aioimaplib.IMAP4(
            options.host, options.port, timeout=self._timeout, conn_lost_cb=self._on_lost,
            ssl_context=context if options.security == "ssl" else None)
        self._client = client
        self._watch(client.protocol)
        await self.call("connecting", client.wait_hello_from_server())
        _keepalive(client.protocol.transport)
        if options.security == "starttls":
            assert context is not None
            await self._starttls(context)
        if "LOGINDISABLED" in client.protocol.capabilities:
            raise ImapError("the server refuses LOGIN without TLS (LOGINDISABLED): set "
                            "EMAIL_IMAP_SECURITY to ssl or starttls")
        login = await self.call(
            "LOGIN", client.login(aioimaplib.quoted(options.user), options.password))
        if login.result != "OK":
            raise ImapError(f"LOGIN refused ({_status(login)})")
        # What the server can do changes at LOGIN, and aioimaplib merges the two lists
        await self.call("CAPABILITY", client.protocol.capability())
        selected = await self.call(
            "SELECT", client.select(aioimaplib.quoted(encode_mailbox_name(options.folder))))
        if selected.result != "OK":
            raise ImapError(f"SELECT {options.folder} refused ({_status(selected)})")
        text = b"\n".join(bytes(line) for line in selected.lines)
        validity = _UIDVALIDITY.search(text)
        if validity is None:
            raise ImapError("the server sent no UIDVALIDITY at SELECT")
        self.uidvalidity = int(validity.group(1))
        uidnext = _UIDNEXT.search(text)
        self.uidnext = int(uidnext.group(1)) if uidnext is not None else None

    async def _starttls(self, context: ssl.SSLContext) -> None:
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("the server does not offer STARTTLS (EMAIL_IMAP_SECURITY=starttls); "
                            "not logging in without TLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await self.call("STARTTLS", protocol.execute(command))
        if response.result != "OK":
            raise ImapError(f"STARTTLS refused ({_status(response)})")
        loop = asyncio.get_running_loop()
        protocol.transport = await self.call("the TLS handshake", loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self._options.host,
            ssl_handshake_timeout=self._timeout))
        # RFC 3501 6.2.1: what the server said before TLS cannot be trusted
        await self.call("CAPABILITY", protocol.capability())

    async def search(self, *criteria: str) -> list[int]:
        response = await self.call("UID SEARCH", self._client.uid_search(*criteria, charset=None))
        if response.result != "OK":
            raise ImapError(f"UID SEARCH refused ({_status(response)})")
        found = {int(token) for line in response.lines[:-1] for token in bytes(line).split()
                 if token.isdigit()}
        return sorted(found)

    async def fetch(self, uid: int) -> bytes | None:
        """The raw mail, or None when it is gone; aioimaplib's own timeout is one of
        inactivity, which suits a large mail on a slow link."""
        response = await self.call(
            "UID FETCH", self._client.uid("fetch", str(uid), "(BODY.PEEK[])"), timeout=None)
        if response.result != "OK":
            raise ImapError(f"UID FETCH refused ({_status(response)})")
        return _body(response.lines, uid)

    async def mark_seen(self, uid: int) -> bool:
        response = await self.call(
            "UID STORE", self._client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Seen)"))
        return bool(response.result == "OK")

    async def idle(self, seconds: float, stop: asyncio.Event) -> None:
        """IDLE until the message count grows, ``seconds`` pass or ``stop`` is set."""
        queue = self._client.protocol.idle_queue
        while not queue.empty():  # pushes are tracked in ``changed``; the queue only grows
            queue.get_nowait()
        if self.changed.is_set():
            return
        idling = await self.call("IDLE", self._client.idle_start(timeout=seconds))
        await self._wait((self.changed, stop), seconds)
        if self.lost.is_set():
            raise ImapError("the server closed the connection during IDLE")
        self._client.idle_done()
        done = await self.call("DONE", idling)
        if done.result != "OK":
            raise ImapError(f"IDLE ended with {_status(done)}")

    async def sleep(self, seconds: float, stop: asyncio.Event) -> None:
        await self._wait((stop,), seconds)
        if self.lost.is_set():
            raise ImapError("the server closed the connection")

    async def logout(self) -> None:
        if self._client is not None and not self.lost.is_set():
            with contextlib.suppress(ImapError):
                await self.call("LOGOUT", self._client.logout(), timeout=LOGOUT_TIMEOUT)

    def abort(self) -> None:
        """Close the socket and cancel whatever aioimaplib still waits for."""
        client, self._client = self._client, None
        if client is None:
            return
        protocol = client.protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        connecting = getattr(client, "_client_task", None)
        pending = [*client.tasks, *(protocol.tasks if protocol is not None else ())]
        for task in [connecting, *pending]:
            if task is not None and not task.done():
                task.cancel()

    async def call(self, what: str, awaitable: Awaitable[Any], *,
                   timeout: float | None = _DEFAULT) -> Any:
        """``awaitable``'s result, or ImapError when it fails, times out or the connection is
        lost first (aioimaplib would wait for its own timeout)."""
        limit = self._timeout if timeout == _DEFAULT else timeout
        task = asyncio.ensure_future(awaitable)
        if self.lost.is_set():
            task.cancel()
            raise ImapError(f"the connection was closed before {what}")
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=limit,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
        if task in done:
            if task.cancelled():
                raise ImapError(f"{what} was cancelled")
            error = task.exception()
            if error is None:
                return task.result()
            raise ImapError(f"{what} failed ({_describe(error)})") from None
        if lost in done:
            raise ImapError(f"the server closed the connection during {what}")
        raise ImapError(f"{what} timed out after {limit:g} s")

    async def _wait(self, events: tuple[asyncio.Event, ...], seconds: float) -> None:
        waiters = [asyncio.ensure_future(e.wait()) for e in (*events, self.lost)]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _on_lost(self, _exc: Exception | None) -> None:
        self.lost.set()

    def _watch(self, protocol: Any) -> None:
        """See every untagged response before aioimaplib routes (or drops) it."""
        route = protocol._untagged_response

        def watched(line: bytes) -> Any:
            exists = _EXISTS.match(line)
            if exists is not None:
                count = int(exists.group(1))
                if self._count is not None and count > self._count:
                    self.changed.set()
                self._count = count
            elif _EXPUNGE.match(line) and self._count:
                self._count -= 1
            elif _BYE.match(line):
                self.lost.set()  # the server is closing: do not wait for the socket
            return route(line)

        protocol._untagged_response = watched


def encode_mailbox_name(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3): ``Входящие`` ->
    ``&BBIERQQ+BDQETwRJBDgENQ-``; printable ASCII stays, ``&`` becomes ``&-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _body(lines: list[Any], uid: int) -> bytes | None:
    """The literal after ``BODY[] {n}`` for ``uid`` (untagged FLAGS updates may be mixed in)."""
    for index, line in enumerate(lines[:-1]):
        if isinstance(line, bytearray) or not isinstance(lines[index + 1], bytearray):
            continue
        if not _BODY_LITERAL.search(line):
            continue
        after = lines[index + 2] if index + 2 < len(lines) else b""
        uids = _UID.findall(bytes(line)) + _UID.findall(bytes(after))
        if not uids or int(uids[0]) == uid:
            return bytes(lines[index + 1])
    return None


def _status(response: Any) -> str:
    """``NO [AUTHENTICATIONFAILED]``: the result and the response code, not the free text."""
    last = bytes(response.lines[-1]) if response.lines else b""
    code = _CODE.match(last)
    return f"{response.result} [{code.group(1).decode()}]" if code else str(response.result)


def _describe(error: BaseException) -> str:
    """A failure for the log; aioimaplib's texts may quote a command (LOGIN: the password)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {error.verify_message}"
    if isinstance(error, TimeoutError | aioimaplib.CommandTimeout):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return type(error).__name__


def _keepalive(transport: Any) -> None:
    """TCP keepalive: a connection that died silently is noticed within minutes, not at the
    next IDLE round."""
    with contextlib.suppress(AttributeError, OSError):
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
