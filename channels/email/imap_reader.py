"""Reads the support mailbox over IMAP and hands every new mail to ``store`` exactly once per
position: nothing is missed across restarts, and a mail is marked ``\\Seen`` only after it is
stored.

Position. The cursor ``email:<folder>`` holds ``"<UIDVALIDITY>:<last UID>"`` and moves after
each mail is stored and flagged. A UID means nothing under another UIDVALIDITY (the mailbox was
rebuilt), so when the server's differs -- or when there is no cursor yet -- the reader catches
up on the mailbox's *unseen* mail up to the UIDNEXT it found at SELECT (mail that came while the
app was down is still unseen; starting from UIDNEXT would lose it), and from there on reads
every UID above that line, seen or not. While catching up, ``\\Seen`` is the progress mark.

One pass: ``UID SEARCH`` for what is new, then per UID in ascending order ``UID FETCH
BODY.PEEK[]`` (leaves ``\\Seen`` alone), ``store(uid, raw)``, and only after it returns ``UID
STORE +FLAGS.SILENT (\\Seen)`` and the cursor. When ``store`` raises, the pass stops with the
cursor where it was: the same mail is offered again after a growing pause (the caller dedupes on
Message-ID; the same holds after a crash between storing and moving the cursor). Mail of any
size is passed on: what to do with a huge one is the caller's decision.

Waiting. With the IDLE capability the reader idles and runs a pass when the server reports new
mail; IDLE is re-issued every ``idle_seconds`` (below the 29 minutes after which servers may
drop an idle client). Without IDLE it polls every ``poll_seconds``.

aioimaplib quirks handled here (2.0): a ``* BYE`` or a dropped connection does not fail a
pending command (it runs into its timeout), so every command races the connection-lost callback
and a timeout; an ``EXISTS`` that arrives with the answer to another command is logged and
dropped, so the reader watches the untagged responses itself and searches again when the
message count grew during a pass (without this, mail delivered during a pass would wait for the
next IDLE round); its debug log shows mail bodies, and its error texts may quote the LOGIN
command, so its logger is kept at WARNING and its exception texts are never logged.

Failures (refused connection, TLS, LOGIN, timeouts, BYE) end the session; the reader reconnects
after an exponential pause with jitter (capped at a minute), logging one line without the
password, addresses, subjects or bodies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aioimaplib  # type: ignore[import-untyped]

from channels.email.options import ImapOptions

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0  # seconds before the first reconnect; doubles per failure
MAX_PAUSE = 60.0
STABLE_SESSION = 60.0  # a session that lasted this long starts the back-off afresh
IDLE_LIMIT = 29 * 60  # RFC 2177: servers may log an idle client out after 30 minutes
LOGOUT_TIMEOUT = 2.0
_DEFAULT = -1.0  # "the connection's own timeout" for _Connection.call

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.IGNORECASE)
_EXISTS = re.compile(rb"\*\s+(\d+)\s+EXISTS\b", re.IGNORECASE)
_EXPUNGE = re.compile(rb"\*\s+\d+\s+EXPUNGE\b", re.IGNORECASE)
_BYE = re.compile(rb"\*\s+BYE\b", re.IGNORECASE)
_CODE = re.compile(rb"^\[([A-Z0-9-]+)")
_BODY_LITERAL = re.compile(rb"BODY\[\]\s*\{\d+\}$", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_CURSOR = re.compile(r"(\d+):(\d+)")

Store = Callable[[int, bytes], Awaitable[None]]


class CursorStore(Protocol):
    """``bot.cursors.Cursors`` or anything with the same two methods."""

    async def get(self, name: str) -> str | None: ...

    async def put(self, name: str, value: str) -> None: ...


class ImapError(Exception):
    """The IMAP session cannot go on (refused, lost, timed out); the text is safe to log."""


class MailboxReader:
    def __init__(
        self,
        options: ImapOptions,
        cursors: CursorStore,
        store: Store,
        *,
        idle_seconds: float = 25 * 60,
        poll_seconds: float = 60,
        connect_timeout: float = 15,
    ) -> None:
        if not 0 < idle_seconds < IDLE_LIMIT:
            raise ValueError(f"idle_seconds must be above 0 and below {IDLE_LIMIT}")
        if poll_seconds <= 0 or connect_timeout <= 0:
            raise ValueError("poll_seconds and connect_timeout must be positive")
        self._options = options
        self._cursors = cursors
        self._store = store
        self._idle_seconds = idle_seconds
        self._poll_seconds = poll_seconds
        self._timeout = connect_timeout
        self._position: tuple[int, int] | None = None  # (UIDVALIDITY, last UID), as saved
        self._baseline: tuple[int, int] | None = None  # (UIDVALIDITY, UIDNEXT - 1) of a catch-up
        self._failures = 0
        self._store_failures = 0
        self.stored = 0  # mails handed to ``store`` successfully, for the curious
        for name in ("aioimaplib", "aioimaplib.aioimaplib"):
            library_log = logging.getLogger(name)
            if library_log.level < logging.WARNING:  # its DEBUG/INFO lines carry mail bodies
                library_log.setLevel(logging.WARNING)

    @property
    def cursor_name(self) -> str:
        return f"email:{self._options.folder}"

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set, reconnecting after any failure."""
        options = self._options
        log.info("email: reading %s on %s:%d (%s)", options.folder, options.host, options.port,
                 options.security)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self._session(stop)
                return
            except ImapError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a failed cursor store, or a bug: go on
                reason = f"unexpected {type(exc).__name__}"
            if loop.time() - started >= STABLE_SESSION:
                self._failures = 0
            self._failures += 1
            pause = _pause(self._failures)
            log.warning("email: IMAP session ended: %s; reconnecting in %.1f s", reason, pause)
            await _sleep(stop, pause)

    async def read_once(self) -> int:
        """One pass on a fresh connection, then LOGOUT; returns how many mails were stored.
        Connection problems raise :class:`ImapError`."""
        before = self.stored
        connection = _Connection(self._options, self._timeout)
        try:
            await self._open(connection)
            await self._pass(connection, asyncio.Event())
            await connection.logout()
        finally:
            connection.abort()
        return self.stored - before

    # ----- one session

    async def _session(self, stop: asyncio.Event) -> None:
        connection = _Connection(self._options, self._timeout)
        try:
            await self._open(connection)
            log.info("email: connected to %s; %s", self._options.host,
                     "waiting with IDLE" if connection.can_idle else
                     f"polling every {self._poll_seconds:g} s (no IDLE)")
            while not stop.is_set():
                if await self._pass(connection, stop):
                    self._store_failures = 0
                    wait = self._idle_seconds if connection.can_idle else self._poll_seconds
                else:
                    self._store_failures += 1
                    wait = _pause(self._store_failures)
                if stop.is_set():
                    break
                if connection.can_idle:
                    await connection.idle(wait, stop)
                else:
                    await connection.sleep(wait, stop)
            await connection.logout()
        finally:
            connection.abort()

    async def _open(self, connection: _Connection) -> None:
        await connection.open()
        self._position = _parse_cursor(await self._cursors.get(self.cursor_name))
        if self._position is None:
            return
        validity, last = self._position
        if validity != connection.uidvalidity:
            log.warning("email: %s has a new UIDVALIDITY (the mailbox was rebuilt); reading its "
                        "unseen mail again", self._options.folder)
            self._position = None
        elif connection.uidnext is not None and last >= connection.uidnext:
            log.warning("email: the server's UIDs in %s went backwards (UIDNEXT %d, saved %d); "
                        "reading its unseen mail again", self._options.folder,
                        connection.uidnext, last)
            self._position = self._baseline = None

    async def _pass(self, connection: _Connection, stop: asyncio.Event) -> bool:
        """Everything new, in UID order; False when storing failed (try again later)."""
        while not stop.is_set():
            connection.changed.clear()
            if self._position is None:
                if not await self._catch_up(connection, stop):
                    return False
                continue
            validity, last = self._position
            uids = [u for u in await connection.search("UID", f"{last + 1}:*") if u > last]
            for uid in uids:
                if stop.is_set():
                    return True
                if not await self._take(connection, uid, validity, move_cursor=True):
                    return False
            if not uids and not connection.changed.is_set():
                return True
        return True

    async def _catch_up(self, connection: _Connection, stop: asyncio.Event) -> bool:
        """The unseen mail up to the UIDNEXT seen at SELECT, then the cursor at that line."""
        validity = connection.uidvalidity
        if self._baseline is None or self._baseline[0] != validity:
            if connection.uidnext is not None:
                top = connection.uidnext - 1
            else:  # RFC 3501 requires UIDNEXT at SELECT; an old server may still omit it
                top = max(await connection.search("ALL"), default=0)
            self._baseline = (validity, top)
        top = self._baseline[1]
        unseen = [u for u in await connection.search("UNSEEN") if u <= top]
        for uid in unseen:
            if stop.is_set():
                return True
            if not await self._take(connection, uid, validity, move_cursor=False):
                return False
        if not await self._save(validity, top):
            return False
        log.info("email: %s: %d unseen mail(s) read at start; from now on every new mail",
                 self._options.folder, len(unseen))
        return True

    async def _take(self, connection: _Connection, uid: int, validity: int, *,
                    move_cursor: bool) -> bool:
        raw = await connection.fetch(uid)
        if raw is None:
            log.info("email: the mail with UID %d in %s was gone before it was read", uid,
                     self._options.folder)
        else:
            try:
                await self._store(uid, raw)
            except Exception as exc:  # noqa: BLE001 - whatever failed, the mail comes again
                log.warning("email: storing the mail with UID %d failed (%s); it is offered "
                            "again", uid, type(exc).__name__)
                return False
            self.stored += 1
            if not await connection.mark_seen(uid):
                log.warning("email: the server refused to mark UID %d as seen; going on", uid)
        return await self._save(validity, uid) if move_cursor else True

    async def _save(self, validity: int, uid: int) -> bool:
        try:
            await self._cursors.put(self.cursor_name, f"{validity}:{uid}")
        except Exception as exc:  # noqa: BLE001 - the database may be down for a while
            log.warning("email: saving the mailbox position at UID %d failed (%s); what follows "
                        "it is offered again", uid, type(exc).__name__)
            return False
        self._position = (validity, uid)
        return True


class _Connection:
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


def _parse_cursor(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    matched = _CURSOR.fullmatch(value.strip())
    if matched is None:
        log.warning("email: the saved mailbox position is unreadable; reading unseen mail again")
        return None
    return int(matched.group(1)), int(matched.group(2))


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


def _pause(failures: int) -> float:
    ceiling = min(MAX_PAUSE, FIRST_PAUSE * 2.0 ** min(failures - 1, 16))
    return random.uniform(ceiling / 2, ceiling)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
