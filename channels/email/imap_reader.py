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
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from channels.email.imap_connection import ImapConnection, ImapError
from channels.email.options import ImapOptions

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0  # seconds before the first reconnect; doubles per failure
MAX_PAUSE = 60.0
STABLE_SESSION = 60.0  # a session that lasted this long starts the back-off afresh
IDLE_LIMIT = 29 * 60  # RFC 2177: servers may log an idle client out after 30 minutes

_CURSOR = re.compile(r"(\d+):(\d+)")

Store = Callable[[int, bytes], Awaitable[None]]


class CursorStore(Protocol):
    """``bot.cursors.Cursors`` or anything with the same two methods."""

    async def get(self, name: str) -> str | None: ...

    async def put(self, name: str, value: str) -> None: ...


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
        connection = ImapConnection(self._options, self._timeout)
        try:
            await self._open(connection)
            await self._pass(connection, asyncio.Event())
            await connection.logout()
        finally:
            connection.abort()
        return self.stored - before

    # ----- one session

    async def _session(self, stop: asyncio.Event) -> None:
        connection = ImapConnection(self._options, self._timeout)
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

    async def _open(self, connection: ImapConnection) -> None:
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

    async def _pass(self, connection: ImapConnection, stop: asyncio.Event) -> bool:
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

    async def _catch_up(self, connection: ImapConnection, stop: asyncio.Event) -> bool:
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

    async def _take(self, connection: ImapConnection, uid: int, validity: int, *,
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


def _parse_cursor(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    matched = _CURSOR.fullmatch(value.strip())
    if matched is None:
        log.warning("email: the saved mailbox position is unreadable; reading unseen mail again")
        return None
    return int(matched.group(1)), int(matched.group(2))


def _pause(failures: int) -> float:
    ceiling = min(MAX_PAUSE, FIRST_PAUSE * 2.0 ** min(failures - 1, 16))
    return random.uniform(ceiling / 2, ceiling)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
