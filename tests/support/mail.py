"""Real mail servers for the e-mail channel's tests: Debian's Dovecot as the IMAP server (one
private instance per ``DovecotServer``, in a temp dir, on a free loopback port) and an aiosmtpd
sink that captures what the app sends and can refuse on demand.

A fixture is three lines::

    with DovecotServer() as imap:
        yield imap            # then mailbox = imap.new_mailbox() in each test
    with SmtpSink() as smtp:
        yield smtp
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import grp
import imaplib
import itertools
import logging
import os
import pwd
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.daemon import SYSTEM_BIN_DIRS, LocalDaemon, StartStop, find_binary
from tests.support.servers import free_port

INSTALL_HINT = "run scripts/install-mailserver.sh (or make test, which installs it)"
START_TIMEOUT = 15.0
IMAP_TIMEOUT = 10.0
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


# --------------------------------------------------------------------------- IMAP: Dovecot


@dataclass(frozen=True)
class _MailOwner:
    """Who owns the mail files, and which accounts Dovecot's helper processes run as."""

    uid: int
    gid: int
    internal_user: str
    internal_group: str
    login_user: str


def _mail_owner() -> _MailOwner:
    if os.geteuid() != 0:
        # Rootless: Dovecot cannot change user, so everything runs as whoever runs the tests.
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return _MailOwner(me.pw_uid, os.getegid(), me.pw_name, group, me.pw_name)
    # Dovecot refuses mail access as root ("userdb returned 0 as uid", whatever
    # first_valid_uid says); ``nobody`` exists everywhere, and ``dovecot``/``dovenull`` come
    # with the package: no account has to be created.
    nobody = pwd.getpwnam("nobody")
    return _MailOwner(nobody.pw_uid, nobody.pw_gid, "dovecot", "dovecot", "dovenull")


def _dovecot_config(root: Path, port: int, owner: _MailOwner) -> str:
    return f"""\
# A throwaway IMAP server for tests: loopback only, no TLS, plaintext logins.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/run/state
log_path = /dev/stderr
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered within 0.5 s (the default waits 2 s; 2.3.19 flushes failures
# on a 500 ms timer)
auth_failure_delay = 0
default_internal_user = {owner.internal_user}
default_internal_group = {owner.internal_group}
default_login_user = {owner.login_user}
mail_location = maildir:~/Maildir
mail_uid = {owner.uid}
mail_gid = {owner.gid}
first_valid_uid = {owner.uid}
last_valid_uid = {owner.uid}
first_valid_gid = {owner.gid}
last_valid_gid = {owner.gid}
mail_fsync = never
mail_max_userip_connections = 100
# One passwd-file per user: Dovecot re-reads a passwd-file at most once a second, so users
# appended to a shared file can stay invisible for up to a second; a new file is read at once.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={owner.uid} gid={owner.gid} home={root}/home/%u
}}
# No chroots: a rootless Dovecot cannot chroot, and a test server gains nothing from them.
service anvil {{
  chroot =
  # No auth penalty: after one failed login Dovecot would delay every later login from
  # 127.0.0.1 (2 s, doubling up to 15 s); without this socket the auth process turns it off.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service ipc {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class Mailbox:
    """One IMAP account on a ``DovecotServer``, with stdlib-imaplib helpers for the test side
    (put mail in, look at flags and UIDs). Each helper opens its own short connection; the
    ``*_async`` twins run it in a thread so an async test's event loop keeps running.

    Folder names are plain ASCII (no modified UTF-7 here)."""

    address: str
    password: str = field(repr=False)
    host: str
    port: int
    server: DovecotServer = field(repr=False, compare=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib client (logged out on exit)."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=IMAP_TIMEOUT)
        try:
            _ok(conn.login(self.address, self.password), "LOGIN")
            yield conn
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """Deliver ``raw`` into ``folder`` (like an MTA would) and return its UID."""
        flag_list = "(" + " ".join(flags) + ")"
        with self.session() as conn:
            typ, data = conn.append(_quote(folder), flag_list, None, raw)
            _ok((typ, data), "APPEND")
            found = _APPENDUID.search(b" ".join(d for d in data if isinstance(d, bytes)))
            if found is None:  # Dovecot always sends APPENDUID (UIDPLUS); this is a safety net
                raise AssertionError(f"APPEND answered without APPENDUID: {data!r}")
            return int(found.group(2))

    def uids(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        """``UID SEARCH criteria`` (e.g. ``"UNSEEN"``) in a read-only session."""
        with self.session() as conn:
            _ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            typ, data = conn.uid("SEARCH", criteria)
            _ok((typ, data), "UID SEARCH")
            return sorted(int(n) for n in cast(bytes, data[0] or b"").split())

    def flags(self, uid: int, folder: str = "INBOX") -> set[str]:
        """The message's flags, e.g. ``{"\\\\Seen"}``; without ``\\Recent``, which belongs to
        whichever session saw the message first and is no business of a test."""
        with self.session() as conn:
            _ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            _ok((typ, data), "UID FETCH")
            for item in data:
                if isinstance(item, bytes) and re.search(rb"\bUID %d\b" % uid, item):
                    found = {f.decode() for f in imaplib.ParseFlags(item)}
                    return found - {"\\Recent"}
            raise LookupError(f"no message with UID {uid} in {folder}")

    def add_flags(self, uid: int, *flags: str, folder: str = "INBOX") -> None:
        """``UID STORE +FLAGS`` from another client (a person reading the mailbox)."""
        with self.session() as conn:
            _ok(conn.select(_quote(folder)), "SELECT")
            _ok(conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(" + " ".join(flags) + ")"),
                "UID STORE")

    def fetch(self, uid: int, folder: str = "INBOX") -> bytes:
        """The raw message (``BODY.PEEK[]``: leaves ``\\Seen`` alone)."""
        with self.session() as conn:
            _ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            _ok((typ, data), "UID FETCH")
            for item in data:
                if isinstance(item, tuple):
                    return cast(bytes, item[1])
            raise LookupError(f"no message with UID {uid} in {folder}")

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.session() as conn:
            _ok(conn.select(_quote(folder), readonly=True), "EXAMINE")
            _typ, data = conn.response("UIDVALIDITY")
            return int(cast(bytes, data[0]))

    def create_folder(self, name: str) -> None:
        with self.session() as conn:
            _ok(conn.create(_quote(name)), "CREATE")

    def folders(self) -> list[str]:
        with self.session() as conn:
            typ, data = conn.list()
            _ok((typ, data), "LIST")
        names = []
        for line in data:
            if isinstance(line, bytes):
                # (\HasNoChildren) "." "Name" or ... "." Name
                name = line.rsplit(b' "." ', 1)[-1].strip()
                names.append(name.strip(b'"').decode())
        return sorted(names)

    def recreate(self, folder: str = "INBOX", *, keep_mail: bool = True) -> int:
        """Give ``folder`` a new UIDVALIDITY, as a server rebuilt from a backup does, and return
        it. UIDs restart at 1: with ``keep_mail`` the messages stay (renumbered from 1, flags
        kept), otherwise the folder ends up empty and the next delivery gets UID 1.

        Like a real rebuild, this disconnects the user's IMAP sessions first (``doveadm kick``:
        they get ``* BYE Server shutting down.``). IMAP itself cannot do this to INBOX (DELETE
        INBOX is refused), and rewriting Dovecot's files under a session that has the folder
        selected makes it fail ("internal error", even an assertion panic)."""
        before = self.uidvalidity(folder)
        if not keep_mail:
            with self.session() as conn:
                _ok(conn.select(_quote(folder)), "SELECT")
                _ok(conn.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
                _ok(conn.expunge(), "EXPUNGE")
        # UIDVALIDITY is normally a creation second; max() keeps it new within the same second.
        wanted = max(int(time.time()), before + 1)
        self.server.reset_uids(self.address, folder, wanted)
        after = self.uidvalidity(folder)
        if after != wanted:
            raise AssertionError(f"UIDVALIDITY of {folder} is {after}, expected {wanted}")
        return after

    async def append_async(self, raw: bytes, *, folder: str = "INBOX",
                           flags: Iterable[str] = ()) -> int:
        return await asyncio.to_thread(self.append, raw, folder=folder, flags=flags)

    async def uids_async(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        return await asyncio.to_thread(self.uids, folder, criteria)

    async def flags_async(self, uid: int, folder: str = "INBOX") -> set[str]:
        return await asyncio.to_thread(self.flags, uid, folder)

    async def add_flags_async(self, uid: int, *flags: str, folder: str = "INBOX") -> None:
        await asyncio.to_thread(self.add_flags, uid, *flags, folder=folder)

    async def fetch_async(self, uid: int, folder: str = "INBOX") -> bytes:
        return await asyncio.to_thread(self.fetch, uid, folder)

    async def uidvalidity_async(self, folder: str = "INBOX") -> int:
        return await asyncio.to_thread(self.uidvalidity, folder)

    async def create_folder_async(self, name: str) -> None:
        await asyncio.to_thread(self.create_folder, name)

    async def recreate_async(self, folder: str = "INBOX", *, keep_mail: bool = True) -> int:
        return await asyncio.to_thread(self.recreate, folder, keep_mail=keep_mail)


def _quote(mailbox: str) -> str:
    """imaplib sends mailbox names verbatim; a quoted string is always valid."""
    if not mailbox.isascii() or any(c in mailbox for c in "\r\n"):
        raise ValueError(f"unsupported folder name {mailbox!r}")
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(result: tuple[str, list[Any]], what: str) -> None:
    typ, data = result
    if typ != "OK":
        raise AssertionError(f"IMAP {what} failed: {typ} {data!r}")


def _find_binary(name: str) -> str | None:
    # Reads this module's SYSTEM_BIN_DIRS at each call: a test empties it to act out
    # "Dovecot is not installed".
    return find_binary(name, SYSTEM_BIN_DIRS)


class DovecotServer(LocalDaemon):
    """A private Dovecot (``dovecot -F -c <tmp>/dovecot.conf``) on ``host``:``port``.

    ``with DovecotServer() as imap:`` (or ``async with``) starts it in a fresh temp dir, waits
    until a login works, and on exit stops every process it started and removes the dir. Users
    can be added at any time, also while it runs."""

    name = "Dovecot"
    install_hint = INSTALL_HINT
    temp_prefix = "abonent-dovecot-"
    # Short path under /tmp: Dovecot's unix sockets live in base_dir (108-byte limit).
    temp_parent = "/tmp"
    log_name = "dovecot.log"

    def __init__(self, *, start_timeout: float = START_TIMEOUT) -> None:
        super().__init__(start_timeout=start_timeout)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    # ----- LocalDaemon's hooks

    def _locate(self) -> str | None:
        return _find_binary("dovecot")

    def _launch(self, binary: str) -> None:
        assert self.root is not None
        probe = self.add_user("probe@server.test", secrets.token_urlsafe(12))
        # Looked up at each start: a test swaps _dovecot_config for a TLS variant.
        (self.root / "dovecot.conf").write_text(
            _dovecot_config(self.root, self.port, _mail_owner()), encoding="utf-8")
        self._spawn(binary)
        self._wait_ready(probe)

    def _failure_text(self) -> str:
        return self.log_text()

    def _prepare(self) -> None:
        assert self.root is not None
        owner = _mail_owner()
        # Helper processes run as other accounts and must reach sockets, users and homes.
        self.root.chmod(0o755)
        (self.root / "run").mkdir()
        users = self.root / "users"
        users.mkdir(mode=0o750)
        home = self.root / "home"
        home.mkdir(mode=0o700)
        if os.geteuid() == 0:
            internal = pwd.getpwnam(owner.internal_user)
            os.chown(users, 0, internal.pw_gid)  # the auth process (``dovecot``) reads these
            os.chown(home, owner.uid, owner.gid)

    # _spawn and _wait_ready stay separate: a test restarts Dovecot on the same port and mail
    # with _kill(), _spawn() and _wait_ready().
    def _spawn(self, binary: str) -> None:
        assert self.root is not None
        self._spawn_daemon([binary, "-F", "-c", str(self.root / "dovecot.conf")])

    def _wait_ready(self, probe: Mailbox) -> None:
        def select_inbox() -> None:
            # SELECT too: a login can succeed while mail storage is broken
            # ("Logged in, but initialization failed").
            with probe.session() as conn:
                _ok(conn.select("INBOX"), "SELECT")

        self._await_ready(select_inbox, retry_on=(OSError, imaplib.IMAP4.error, AssertionError),
                          not_ready="accepted no login")

    def log_text(self) -> str:
        """Dovecot's own log (it names users, never passwords)."""
        if self.root is None or not (self.root / "dovecot.log").exists():
            return ""
        return (self.root / "dovecot.log").read_text(encoding="utf-8", errors="replace")

    # ----- users

    def add_user(self, address: str, password: str) -> Mailbox:
        """Create an IMAP account; a running server accepts its login at once."""
        if self.root is None:
            raise RuntimeError("start the server first")
        if not re.fullmatch(r"[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+", address) or address[0] == ".":
            raise ValueError(f"unsupported test address {address!r}")
        if any(c in password for c in ":\r\n"):
            raise ValueError("a passwd-file password cannot contain ':' or a line break")
        path = self.root / "users" / address
        tmp = path.with_name(f".{address}.tmp")
        tmp.write_text(f"{address}:{{PLAIN}}{password}\n", encoding="utf-8")
        if os.geteuid() == 0:
            os.chown(tmp, 0, pwd.getpwnam(_mail_owner().internal_user).pw_gid)
        tmp.chmod(0o640)
        tmp.replace(path)  # atomic: the auth process never reads half a line
        return Mailbox(address, password, self.host, self.port, self)

    def maildir(self, address: str, folder: str = "INBOX") -> Path:
        """Where ``folder`` of ``address`` lives on disk (Maildir++: subfolders are ``.Name``)."""
        if self.root is None:
            raise RuntimeError("the server is not running")
        maildir = self.root / "home" / address / "Maildir"
        return maildir if folder.upper() == "INBOX" else maildir / f".{folder}"

    def doveadm(self, *args: str, ok_codes: Iterable[int] = (0,)) -> str:
        """Run ``doveadm -c <our config> args...`` against this instance; return its stdout."""
        if self.root is None:
            raise RuntimeError("the server is not running")
        binary = _find_binary("doveadm")
        if binary is None:
            raise RuntimeError(f"doveadm is not installed: {INSTALL_HINT}")
        done = subprocess.run([binary, "-c", str(self.root / "dovecot.conf"), *args],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode not in tuple(ok_codes):
            raise RuntimeError(f"doveadm {args[0]} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def kick(self, address: str) -> None:
        """Disconnect every IMAP session of ``address`` (``* BYE Server shutting down.``)."""
        self.doveadm("kick", address, ok_codes=(0, 68))  # 68: nobody was connected

    def reset_uids(self, address: str, folder: str, uidvalidity: int) -> None:
        """Kick the user, then rewrite the folder's ``dovecot-uidlist`` with a new UIDVALIDITY
        and no UIDs (under Dovecot's own dotlock); Dovecot notices the change on its next sync,
        resets its index and numbers the messages from 1 again."""
        folder_dir = self.maildir(address, folder)
        if not folder_dir.is_dir():
            raise LookupError(f"{address} has no folder {folder}")
        uidlist = folder_dir / "dovecot-uidlist"
        lock = folder_dir / "dovecot-uidlist.lock"
        deadline = time.monotonic() + 10
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{lock} stayed locked") from None
                time.sleep(0.01)
        os.close(fd)
        try:
            self.kick(address)
            guid = ""
            if uidlist.exists():
                header = uidlist.read_text(encoding="ascii").split("\n", 1)[0].split()
                guid = next((f" {h}" for h in header if h.startswith("G")), "")
            tmp = folder_dir / "dovecot-uidlist.abonent-tmp"
            tmp.write_text(f"3 V{uidvalidity} N1{guid}\n", encoding="ascii")
            owner = _mail_owner()
            if os.geteuid() == 0:
                os.chown(tmp, owner.uid, owner.gid)
            tmp.chmod(0o600)
            tmp.replace(uidlist)
        finally:
            lock.unlink(missing_ok=True)

    def new_mailbox(self, prefix: str = "support") -> Mailbox:
        """A fresh user with a random password, so tests sharing a server never share mail."""
        with self._lock:
            number = next(self._numbers)
        token = secrets.token_hex(3)
        return self.add_user(f"{prefix}-{number}-{token}@example.test", secrets.token_urlsafe(16))


# --------------------------------------------------------------------------- SMTP: the sink


Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class CapturedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage = field(repr=False)


@dataclass
class _Failure:
    code: int
    text: str
    times: int


class _SinkHandler:
    """aiosmtpd handler: runs on the controller's own thread and event loop."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self._sink._auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if (refusal := self._sink._take_failure("mail")) is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if (refusal := self._sink._take_failure("rcpt")) is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if (refusal := self._sink._take_failure("data")) is not None:
            return refusal
        raw = envelope.original_content or cast(bytes, envelope.content)
        message = email.message_from_bytes(raw, policy=policy.default)
        self._sink._capture(CapturedMail(str(envelope.mail_from), list(envelope.rcpt_tos),
                                         raw, message))
        return "250 2.0.0 OK: queued"


class _DropLoginDataWarning(logging.Filter):
    """aiosmtpd 1.4 logs a deprecation warning of its own API on every successful AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_LOGIN_DATA_FILTER = _DropLoginDataWarning()


def _quiet_aiosmtpd() -> None:
    logger = logging.getLogger("mail.log")
    if _LOGIN_DATA_FILTER not in logger.filters:
        logger.addFilter(_LOGIN_DATA_FILTER)


class SmtpSink(StartStop):
    """An SMTP server on 127.0.0.1:``port`` that keeps every accepted message in ``messages``.

    ``fail_next`` makes it refuse at a stage (e.g. a 451 greylist or a 550 unknown user);
    ``require_auth`` makes it demand AUTH PLAIN/LOGIN (over plain TCP: loopback only)."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._messages: list[CapturedMail] = []
        self._failures: dict[Stage, list[_Failure]] = {"mail": [], "rcpt": [], "data": []}
        self._auth: tuple[str, str] | None = None
        self._logins: list[str] = []
        self.port = 0
        self._controller: Controller | None = None

    def start(self) -> None:
        _quiet_aiosmtpd()
        # Controller(port=0) fails: it probes the port it was given, so pick one first.
        for attempt in itertools.count(1):
            self.port = free_port()
            controller = Controller(
                _SinkHandler(self), hostname=self.host, port=self.port,
                authenticator=self._authenticate, auth_require_tls=False,
                server_hostname="sink.test", ready_timeout=10.0,
            )
            try:
                controller.start()
            except OSError:
                if attempt == 3:
                    raise
                continue
            self._controller = controller
            return

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    # ----- knobs

    def fail_next(self, stage: Stage, code: int, text: str, times: int = 1) -> None:
        """Answer the next ``times`` commands of ``stage`` (MAIL, RCPT, DATA) with
        ``code text``, e.g. ``fail_next("rcpt", 451, "4.3.0 Try again later")``."""
        if times < 1 or not 400 <= code < 600:
            raise ValueError("fail_next needs times >= 1 and a 4xx or 5xx code")
        with self._cond:
            self._failures[stage].append(_Failure(code, text, times))

    def require_auth(self, user: str, password: str) -> None:
        """From now on MAIL FROM needs a successful AUTH with these credentials."""
        with self._cond:
            self._auth = (user, password)

    def reset(self) -> None:
        """Forget captured mail, pending failures, logins and the auth requirement."""
        with self._cond:
            self._messages.clear()
            for queue in self._failures.values():
                queue.clear()
            self._auth = None
            self._logins.clear()

    # ----- what arrived

    @property
    def logins(self) -> list[str]:
        """User names that logged in successfully, in order."""
        with self._cond:
            return list(self._logins)

    @property
    def messages(self) -> list[CapturedMail]:
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CapturedMail]:
        """Block until at least ``count`` messages arrived; return them all. Do not call this on
        an event loop that must keep sending: use ``wait_for_async`` there."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(self._shortfall(count, timeout))
            return list(self._messages)

    async def wait_for_async(self, count: int, timeout: float = 10.0) -> list[CapturedMail]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._cond:
                if len(self._messages) >= count:
                    return list(self._messages)
            if loop.time() > deadline:
                with self._cond:
                    raise AssertionError(self._shortfall(count, timeout))
            await asyncio.sleep(0.02)

    def _shortfall(self, count: int, timeout: float) -> str:
        got = [(m.mail_from, m.rcpt_tos, m.message.get("Subject")) for m in self._messages]
        return f"expected {count} message(s) within {timeout} s, got {len(got)}: {got!r}"

    # ----- called from the handler thread

    def _take_failure(self, stage: Stage) -> str | None:
        with self._cond:
            queue = self._failures[stage]
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return f"{failure.code} {failure.text}"

    def _capture(self, mail: CapturedMail) -> None:
        with self._cond:
            self._messages.append(mail)
            self._cond.notify_all()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        with self._cond:
            expected = self._auth
        if not isinstance(auth_data, LoginPassword) or expected is None:
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = secrets.compare_digest(user, expected[0]) and secrets.compare_digest(
            password, expected[1])
        if ok:
            with self._cond:
                self._logins.append(user)
        return AuthResult(success=ok, handled=False)
