"""MailboxReader against a real Dovecot: unseen mail read once, ``\\Seen`` only after storing, the
cursor across restarts and UIDVALIDITY changes, IDLE pushes and polling, reconnects after a kick
or a server restart, back-off on a wrong password, TLS, and logs without personal data."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.cursors import Cursors
from bot.storage import Database
from channels.email import imap_reader
from channels.email.imap_connection import ImapConnection, ImapError, encode_mailbox_name
from channels.email.imap_reader import MailboxReader
from channels.email.options import ImapOptions
from tests.channels.email.conftest import TlsFiles
from tests.support import mail
from tests.support.mail import DovecotServer, Mailbox
from tests.support.servers import free_port
from tests.support.silent_server import SilentServer
from tests.support.waiting import eventually

SUBJECT = "Не работает интернет"
SENDER = "ivan.petrov@example.test"


def letter(tag: str) -> bytes:
    return (f"From: Иван <{SENDER}>\r\nTo: support@example.test\r\nSubject: {SUBJECT} {tag}\r\n"
            f"Message-ID: <{tag}.{secrets.token_hex(4)}@example.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Баланс на номере +79161234567, письмо {tag}\r\n").encode()


class MemoryCursors:
    """The two methods of ``bot.cursors.Cursors``, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, name: str) -> str | None:
        return self.values.get(name)

    async def put(self, name: str, value: str) -> None:
        self.values[name] = value


class Recorder:
    """The ``store`` callback: records every offer; ``fail`` says which offers raise."""

    def __init__(self, fail: Callable[[int, bytes], bool] = lambda _uid, _raw: False,
                 during: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.offered: list[tuple[int, bytes]] = []
        self.stored: list[tuple[int, bytes]] = []
        self._fail = fail
        self._during = during

    async def __call__(self, uid: int, raw: bytes) -> None:
        self.offered.append((uid, raw))
        if self._during is not None:
            await self._during(uid)
        if self._fail(uid, raw):
            raise RuntimeError("the database is down")
        self.stored.append((uid, raw))

    @property
    def raws(self) -> list[bytes]:
        return [raw for _uid, raw in self.stored]


def fail_first(count: int) -> Callable[[int, bytes], bool]:
    left = [count]

    def fail(_uid: int, _raw: bytes) -> bool:
        if left[0] > 0:
            left[0] -= 1
            return True
        return False

    return fail


def options_for(box: Mailbox, **overrides: object) -> ImapOptions:
    values: dict[str, object] = {"host": box.host, "port": box.port, "user": box.address,
                                 "password": box.password, "security": "none"}
    values.update(overrides)
    return ImapOptions(**values)  # type: ignore[arg-type]


def reader_for(box: Mailbox, store: Recorder, cursors: object | None = None,
               **kwargs: float) -> MailboxReader:
    return MailboxReader(options_for(box), cursors or MemoryCursors(),  # type: ignore[arg-type]
                         store, connect_timeout=5, **kwargs)


@contextlib.asynccontextmanager
async def running(reader: MailboxReader) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def started(cursors: MemoryCursors, name: str = "email:INBOX") -> str:
    """Wait until the reader has caught up at start (its first cursor is saved)."""
    return await eventually(lambda: cursors.values.get(name), timeout=10)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imap_reader, "FIRST_PAUSE", 0.05)


# -- reading ---------------------------------------------------------------------------------

async def test_unseen_mail_from_before_the_start_is_read_in_uid_order(mailbox: Mailbox) -> None:
    first, old, second = letter("1"), letter("old"), letter("2")
    assert await mailbox.append_async(first) == 1
    assert await mailbox.append_async(old, flags=["\\Seen"]) == 2
    assert await mailbox.append_async(second) == 3
    store, cursors = Recorder(), MemoryCursors()

    assert await reader_for(mailbox, store, cursors).read_once() == 2

    assert store.stored == [(1, first), (3, second)]  # the bytes exactly as delivered
    assert [await mailbox.flags_async(uid) for uid in (1, 2, 3)] == [{"\\Seen"}] * 3
    validity = await mailbox.uidvalidity_async()
    assert cursors.values == {"email:INBOX": f"{validity}:3"}


async def test_seen_and_the_cursor_come_only_after_store_returns(mailbox: Mailbox) -> None:
    cursors = MemoryCursors()
    assert await reader_for(mailbox, Recorder(), cursors).read_once() == 0  # empty: the line
    validity = await mailbox.uidvalidity_async()
    assert cursors.values == {"email:INBOX": f"{validity}:0"}
    for tag in ("a", "b"):
        await mailbox.append_async(letter(tag))
    seen_while_storing: list[tuple[int, set[str], str]] = []

    async def look(uid: int) -> None:
        seen_while_storing.append((uid, await mailbox.flags_async(uid),
                                   cursors.values["email:INBOX"]))

    assert await reader_for(mailbox, Recorder(during=look), cursors).read_once() == 2
    assert seen_while_storing == [(1, set(), f"{validity}:0"), (2, set(), f"{validity}:1")]
    assert await mailbox.flags_async(1) == await mailbox.flags_async(2) == {"\\Seen"}
    assert cursors.values == {"email:INBOX": f"{validity}:2"}


async def test_a_restart_reads_only_what_is_new(mailbox: Mailbox, db: Database) -> None:
    await mailbox.append_async(letter("before"))
    first = Recorder()
    assert await reader_for(mailbox, first, Cursors(db)).read_once() == 1

    again = Recorder()
    restarted = reader_for(mailbox, again, Cursors(db))  # the app after a restart
    assert await restarted.read_once() == 0
    # once the line is drawn, every new mail counts: even one a person has already opened
    opened = letter("opened in webmail")
    await mailbox.append_async(opened, flags=["\\Seen"])
    assert await restarted.read_once() == 1
    assert again.stored == [(2, opened)]
    assert await restarted.read_once() == 0


async def test_a_failed_store_offers_the_same_mail_again(mailbox: Mailbox) -> None:
    cursors = MemoryCursors()
    assert await reader_for(mailbox, Recorder(), cursors).read_once() == 0
    a, b, c = letter("a"), letter("b"), letter("c")
    for raw in (a, b, c):
        await mailbox.append_async(raw)
    store = Recorder(fail=lambda uid, _raw: uid == 2 and len(store.offered) == 2)
    reader = reader_for(mailbox, store, cursors)
    validity = await mailbox.uidvalidity_async()

    assert await reader.read_once() == 1
    assert cursors.values["email:INBOX"] == f"{validity}:1"
    assert [await mailbox.flags_async(uid) for uid in (1, 2, 3)] == [{"\\Seen"}, set(), set()]

    assert await reader.read_once() == 2
    assert [uid for uid, _raw in store.offered] == [1, 2, 2, 3]
    assert store.raws == [a, b, c]
    assert cursors.values["email:INBOX"] == f"{validity}:3"


async def test_a_failed_store_while_catching_up_keeps_the_mail_unseen(mailbox: Mailbox) -> None:
    a, b = letter("a"), letter("b")
    await mailbox.append_async(a)
    await mailbox.append_async(b)
    cursors = MemoryCursors()
    reader = reader_for(mailbox, Recorder(fail=fail_first(1)), cursors)
    assert await reader.read_once() == 0
    assert cursors.values == {}
    assert await mailbox.uids_async(criteria="UNSEEN") == [1, 2]

    store = Recorder()
    assert await reader_for(mailbox, store, cursors).read_once() == 2
    assert store.raws == [a, b]


async def test_a_new_uidvalidity_reads_the_unseen_mail_once(
        mailbox: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    cursors = MemoryCursors()
    read = [letter("read-1"), letter("read-2")]
    for raw in read:
        await mailbox.append_async(raw)
    assert await reader_for(mailbox, Recorder(), cursors).read_once() == 2
    waiting = letter("arrived while the app was down")
    await mailbox.append_async(waiting)

    new = await mailbox.recreate_async()  # rebuilt from a backup: UIDs 1..3 again, flags kept

    store = Recorder()
    reader = reader_for(mailbox, store, cursors)
    with caplog.at_level(logging.WARNING, logger="channels.email.imap_reader"):
        assert await reader.read_once() == 1
    assert store.stored == [(3, waiting)]
    assert cursors.values == {"email:INBOX": f"{new}:3"}
    assert "new UIDVALIDITY" in caplog.text
    later = letter("later")
    await mailbox.append_async(later)
    assert await reader.read_once() == 1
    assert store.raws == [waiting, later]


async def test_an_unreadable_cursor_means_catching_up_again(
        mailbox: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    cursors = MemoryCursors()
    cursors.values["email:INBOX"] = "garbage"
    await mailbox.append_async(letter("x"))
    with caplog.at_level(logging.WARNING, logger="channels.email.imap_reader"):
        assert await reader_for(mailbox, Recorder(), cursors).read_once() == 1
    assert "position is unreadable" in caplog.text
    assert re.fullmatch(r"\d+:1", cursors.values["email:INBOX"])


async def test_a_cursor_ahead_of_the_server_means_catching_up_again(
        mailbox: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    """A mailbox restored without a new UIDVALIDITY hands out UIDs the cursor has passed."""
    validity = await mailbox.uidvalidity_async()
    cursors = MemoryCursors()
    cursors.values["email:INBOX"] = f"{validity}:99"
    wanted = letter("x")
    await mailbox.append_async(wanted)
    store = Recorder()
    with caplog.at_level(logging.WARNING, logger="channels.email.imap_reader"):
        assert await reader_for(mailbox, store, cursors).read_once() == 1
    assert "went backwards (UIDNEXT 2, saved 99)" in caplog.text
    assert store.raws == [wanted]
    assert cursors.values["email:INBOX"] == f"{validity}:1"


async def test_a_failed_cursor_save_offers_the_mail_again(mailbox: Mailbox) -> None:
    class FailingOnce(MemoryCursors):
        failed = False

        async def put(self, name: str, value: str) -> None:
            if value.endswith(":1") and not self.failed:
                self.failed = True
                raise RuntimeError("the database is down")
            await super().put(name, value)

    cursors = FailingOnce()
    assert await reader_for(mailbox, Recorder(), cursors).read_once() == 0
    validity = await mailbox.uidvalidity_async()
    await mailbox.append_async(letter("x"))
    store = Recorder()
    reader = reader_for(mailbox, store, cursors)
    assert await reader.read_once() == 1
    assert cursors.values["email:INBOX"] == f"{validity}:0"
    assert await reader.read_once() == 1  # again: the caller dedupes on Message-ID
    assert [uid for uid, _raw in store.stored] == [1, 1]
    assert cursors.values["email:INBOX"] == f"{validity}:1"


async def test_another_folder_with_a_non_ascii_name(mailbox: Mailbox) -> None:
    folder = "Входящие"
    encoded = encode_mailbox_name(folder)
    await mailbox.create_folder_async(encoded)
    await mailbox.append_async(letter("inbox"))  # not the folder being read
    wanted = letter("folder")
    await mailbox.append_async(wanted, folder=encoded)
    store, cursors = Recorder(), MemoryCursors()
    reader = MailboxReader(options_for(mailbox, folder=folder), cursors, store, connect_timeout=5)
    assert await reader.read_once() == 1
    assert store.stored == [(1, wanted)]
    assert list(cursors.values) == ["email:Входящие"]
    assert await mailbox.flags_async(1, folder=encoded) == {"\\Seen"}
    assert await mailbox.flags_async(1) == set()


@pytest.mark.parametrize(("name", "encoded"), [
    ("INBOX", "INBOX"),
    ("Входящие", "&BBIERQQ+BDQETwRJBDgENQ-"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3
    ("Tom & Jerry", "Tom &- Jerry"),
])
def test_modified_utf7_folder_names(name: str, encoded: str) -> None:
    assert encode_mailbox_name(name) == encoded


# -- waiting for mail --------------------------------------------------------------------------

async def test_an_idle_push_triggers_a_pass_within_seconds(mailbox: Mailbox) -> None:
    store, cursors = Recorder(), MemoryCursors()
    reader = reader_for(mailbox, store, cursors, idle_seconds=600, poll_seconds=600)
    async with running(reader):
        await started(cursors)
        pushed = letter("push")
        began = time.monotonic()
        await mailbox.append_async(pushed)
        await eventually(lambda: store.stored, timeout=5, every=0.02)
        assert time.monotonic() - began < 3
        assert store.raws == [pushed]
        await eventually(lambda: cursors.values["email:INBOX"].endswith(":1"), timeout=5)


async def test_idle_is_reissued_and_still_pushes(mailbox: Mailbox) -> None:
    store, cursors = Recorder(), MemoryCursors()
    reader = reader_for(mailbox, store, cursors, idle_seconds=0.3, poll_seconds=600)
    async with running(reader) as task:
        await started(cursors)
        for n in range(3):  # each round is several IDLE/DONE cycles long
            await mailbox.append_async(letter(f"round {n}"))
            await eventually(lambda n=n: len(store.stored) == n + 1, timeout=5)  # type: ignore[misc]
        assert not task.done()


async def test_mail_delivered_while_a_pass_runs_is_read_in_that_pass(mailbox: Mailbox) -> None:
    delivered: list[int] = []

    async def deliver_another(uid: int) -> None:
        if uid == 1:
            delivered.append(await mailbox.append_async(letter("during")))

    store, cursors = Recorder(during=deliver_another), MemoryCursors()
    await mailbox.append_async(letter("first"))
    reader = reader_for(mailbox, store, cursors, idle_seconds=600, poll_seconds=600)
    async with running(reader):
        await eventually(lambda: len(store.stored) == 2, timeout=5)
    assert delivered == [2]


async def test_new_mail_announced_with_another_answer_is_noticed(mailbox: Mailbox) -> None:
    """aioimaplib drops an EXISTS that comes with the answer to another command; the reader
    notices it anyway, so mail arriving just after its last search does not wait for IDLE."""
    connection = ImapConnection(options_for(mailbox), 5)
    try:
        await connection.open()
        assert not connection.changed.is_set()
        await mailbox.append_async(letter("x"))
        await connection.search("UID", "1:*")  # Dovecot announces the mail with this answer
        assert connection.changed.is_set()
        began = time.monotonic()
        await connection.idle(10, asyncio.Event())  # returns at once: there is news
        assert time.monotonic() - began < 1
    finally:
        connection.abort()


async def test_a_failed_store_is_retried_after_a_pause_not_at_the_next_idle(
        mailbox: Mailbox, quick_backoff: None) -> None:
    store, cursors = Recorder(fail=fail_first(2)), MemoryCursors()
    wanted = letter("x")
    await mailbox.append_async(wanted)
    reader = reader_for(mailbox, store, cursors, idle_seconds=600, poll_seconds=600)
    async with running(reader):
        await eventually(lambda: store.stored, timeout=5)
    assert [raw for _uid, raw in store.offered] == [wanted] * 3
    assert await mailbox.flags_async(1) == {"\\Seen"}


async def test_stop_ends_the_reader_promptly_and_leaves_no_task(mailbox: Mailbox) -> None:
    cursors = MemoryCursors()
    before = asyncio.all_tasks()
    stop = asyncio.Event()
    task = asyncio.create_task(
        reader_for(mailbox, Recorder(), cursors, idle_seconds=600).run(stop))
    await started(cursors)
    began = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - began < 2
    await eventually(lambda: not [t for t in asyncio.all_tasks() - before
                                  if t is not asyncio.current_task()], timeout=2)


# -- failures ----------------------------------------------------------------------------------

async def test_a_kicked_session_reconnects(mailbox: Mailbox, imap_server: DovecotServer,
                                           quick_backoff: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    store, cursors = Recorder(), MemoryCursors()
    reader = reader_for(mailbox, store, cursors, idle_seconds=600)
    with caplog.at_level(logging.INFO, logger="channels.email.imap_reader"):
        async with running(reader):
            await started(cursors)
            await asyncio.to_thread(imap_server.kick, mailbox.address)
            await eventually(lambda: "IMAP session ended" in caplog.text, timeout=5)
            after = letter("after the kick")
            await mailbox.append_async(after)
            await eventually(lambda: store.stored, timeout=10)
    assert store.raws == [after]
    assert "the server closed the connection during " in caplog.text


async def test_a_new_uidvalidity_while_running(mailbox: Mailbox, quick_backoff: None) -> None:
    before = letter("before")
    await mailbox.append_async(before)
    store, cursors = Recorder(), MemoryCursors()
    reader = reader_for(mailbox, store, cursors, idle_seconds=600)
    async with running(reader):
        await started(cursors)  # "before" is stored and seen
        new = await mailbox.recreate_async()  # kicks the reader too
        await eventually(lambda: cursors.values["email:INBOX"].startswith(f"{new}:"), timeout=10)
        after = letter("after")
        await mailbox.append_async(after)
        await eventually(lambda: len(store.stored) == 2, timeout=10)
    assert store.raws == [before, after]


def restart(server: DovecotServer) -> None:
    """Stop Dovecot and start it again on the same port with the same mail (DovecotServer has
    no restart, and its stop() deletes the mail)."""
    server._kill()
    binary = mail._find_binary("dovecot")
    assert binary is not None
    server._spawn(binary)
    server._wait_ready(server.add_user(f"probe-{secrets.token_hex(3)}@server.test",
                                       secrets.token_urlsafe(12)))


async def test_a_restarted_server_is_reconnected_to(quick_backoff: None) -> None:
    async with DovecotServer() as server:
        box = server.new_mailbox()
        store, cursors = Recorder(), MemoryCursors()
        reader = reader_for(box, store, cursors, idle_seconds=600)
        async with running(reader) as task:
            await started(cursors)
            await asyncio.to_thread(restart, server)
            after = letter("after the restart")
            await box.append_async(after)
            await eventually(lambda: store.stored, timeout=10)
            assert not task.done()
        assert store.raws == [after]


async def test_a_wrong_password_is_logged_and_retried_with_back_off(
        mailbox: Mailbox, quick_backoff: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # aioimaplib's DEBUG lines must stay out all the same
    wrong = MailboxReader(options_for(mailbox, password="Wrong-Password-42"), MemoryCursors(),
                          Recorder(), connect_timeout=5)
    async with running(wrong) as task:
        await eventually(lambda: caplog.text.count("LOGIN refused") >= 4, timeout=10)
        assert not task.done()
    failures = [r for r in caplog.records if "LOGIN refused" in r.getMessage()]
    assert all(r.levelno == logging.WARNING and r.name == "channels.email.imap_reader"
               for r in failures)
    assert "LOGIN refused (NO [AUTHENTICATIONFAILED])" in failures[0].getMessage()
    pauses = [float(re.findall(r"reconnecting in ([\d.]+) s", r.getMessage())[0])
              for r in failures]
    assert pauses[:4] == sorted(pauses[:4]) and pauses[3] > pauses[0]
    for secret in ("Wrong-Password-42", mailbox.password, mailbox.address):
        assert secret not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("aioimaplib")]


async def test_a_server_that_never_greets_times_out(quick_backoff: None) -> None:
    async with SilentServer() as silent:
        options = ImapOptions(host="127.0.0.1", port=silent.port, user="u@example.test",
                              password="p", security="none")
        reader = MailboxReader(options, MemoryCursors(), Recorder(), connect_timeout=0.3)
        began = time.monotonic()
        with pytest.raises(ImapError, match="connecting timed out"):
            await reader.read_once()
        assert time.monotonic() - began < 2


async def test_a_refused_connection_is_an_imap_error() -> None:
    options = ImapOptions(host="127.0.0.1", port=free_port(), user="u@example.test",
                          password="p", security="none")
    with pytest.raises(ImapError, match="connecting failed .*Connect"):
        await MailboxReader(options, MemoryCursors(), Recorder()).read_once()


async def test_logs_carry_no_personal_data(mailbox: Mailbox, imap_server: DovecotServer,
                                           quick_backoff: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await mailbox.append_async(letter("one"))
    store, cursors = Recorder(fail=fail_first(1)), MemoryCursors()
    async with running(reader_for(mailbox, store, cursors, idle_seconds=0.3)):
        await started(cursors)
        await asyncio.to_thread(imap_server.kick, mailbox.address)
        await mailbox.append_async(letter("two"))
        await eventually(lambda: len(store.stored) == 2, timeout=10)
    assert "storing the mail with UID 1 failed (RuntimeError)" in caplog.text
    for private in (mailbox.address, mailbox.password, SENDER, SUBJECT, "+79161234567",
                    "Баланс", "the database is down"):
        assert private not in caplog.text


# -- without IDLE, and over TLS ----------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_imap(tls_files: TlsFiles) -> Iterator[tuple[DovecotServer, int]]:
    """A Dovecot with STARTTLS on its IMAP port, implicit TLS on a second port, and no IDLE."""
    ssl_port = free_port()
    original = mail._dovecot_config

    def config(root: Path, port: int, owner: mail._MailOwner) -> str:
        text = original(root, port, owner)
        plain_tls = "ssl = no"
        imaps = "inet_listener imaps {\n    port = 0\n  }"
        assert plain_tls in text and imaps in text
        return text.replace(plain_tls, f"ssl = yes\nssl_cert = <{tls_files.cert}\n"
                                       f"ssl_key = <{tls_files.key}\n"
                                       "imap_capability = IMAP4rev1 LITERAL+ UIDPLUS").replace(
            imaps, f"inet_listener imaps {{\n    address = 127.0.0.1\n    port = {ssl_port}\n  }}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mail, "_dovecot_config", config)
        server = DovecotServer()
        server.start()
    try:
        yield server, ssl_port
    finally:
        server.stop()


async def test_without_idle_the_reader_polls(tls_imap: tuple[DovecotServer, int],
                                             caplog: pytest.LogCaptureFixture) -> None:
    server, _ssl_port = tls_imap
    box = server.new_mailbox()
    store, cursors = Recorder(), MemoryCursors()
    reader = reader_for(box, store, cursors, idle_seconds=600, poll_seconds=0.3)
    with caplog.at_level(logging.INFO, logger="channels.email.imap_reader"):
        async with running(reader):
            await started(cursors)
            for n in range(2):
                await box.append_async(letter(f"poll {n}"))
                await eventually(lambda n=n: len(store.stored) == n + 1, timeout=5)  # type: ignore[misc]
    assert "polling every 0.3 s (no IDLE)" in caplog.text


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_tls_with_a_trusted_certificate(tls_imap: tuple[DovecotServer, int],
                                              tls_files: TlsFiles, security: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server, ssl_port = tls_imap
    box = server.new_mailbox()
    wanted = letter("tls")
    await box.append_async(wanted)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    port = ssl_port if security == "ssl" else box.port
    store = Recorder()
    reader = MailboxReader(options_for(box, security=security, port=port), MemoryCursors(),
                           store, connect_timeout=5)
    assert await reader.read_once() == 1
    assert store.raws == [wanted]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_tls_with_an_untrusted_certificate_does_not_log_in(
        tls_imap: tuple[DovecotServer, int], tls_files: TlsFiles, security: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, ssl_port = tls_imap
    box = server.new_mailbox()
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.other_cert))
    port = ssl_port if security == "ssl" else box.port
    reader = MailboxReader(options_for(box, security=security, port=port), MemoryCursors(),
                           Recorder(), connect_timeout=5)
    with pytest.raises(ImapError, match="certificate not trusted: self-signed certificate"):
        await reader.read_once()
    assert f"user=<{box.address}>" not in server.log_text()  # no login was tried


async def test_starttls_demanded_but_not_offered(mailbox: Mailbox) -> None:
    reader = MailboxReader(options_for(mailbox, security="starttls"), MemoryCursors(),
                           Recorder(), connect_timeout=5)
    with pytest.raises(ImapError, match="does not offer STARTTLS"):
        await reader.read_once()


def test_idle_must_stay_below_the_29_minute_limit() -> None:
    options = ImapOptions(host="127.0.0.1", user="u", password="p")
    with pytest.raises(ValueError, match="idle_seconds"):
        MailboxReader(options, MemoryCursors(), Recorder(), idle_seconds=29 * 60)
