"""The e-mail test servers behave like the real thing for the libraries the app uses: Dovecot
(through aioimaplib) and the SMTP sink (through aiosmtplib)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest

from tests.support import mail
from tests.support.mail import DovecotServer, Mailbox, SmtpSink
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def imap() -> Iterator[DovecotServer]:
    with DovecotServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


class Client:
    """An aioimaplib connection that knows whether the server dropped it (aioimaplib itself
    keeps its state and lets a pending command run into its timeout)."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.lost = asyncio.Event()
        self.imap = aioimaplib.IMAP4(mailbox.host, mailbox.port, timeout=5,
                                     conn_lost_cb=lambda _exc: self.lost.set())


@contextlib.asynccontextmanager
async def connected(mailbox: Mailbox, *, select: str | None = "INBOX") -> AsyncIterator[Client]:
    client = Client(mailbox)
    await client.imap.wait_hello_from_server()
    login = await client.imap.login(mailbox.address, mailbox.password)
    assert login.result == "OK", login
    if select is not None:
        assert (await client.imap.select(select)).result == "OK"
    try:
        yield client
    finally:
        if not client.lost.is_set():
            with contextlib.suppress(Exception):
                await client.imap.logout()
        if client.imap.protocol is not None and client.imap.protocol.transport is not None:
            client.imap.protocol.transport.close()


def letter(subject: str, message_id: str) -> bytes:
    return (f"From: client@example.test\r\nTo: support@abonent.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}@example.test>\r\n\r\nНе работает интернет\r\n"
            ).encode()


def uids_of(response: aioimaplib.Response) -> list[int]:
    assert response.result == "OK", response
    return [int(n) for n in response.lines[0].split()]


def selected_uidvalidity(response: aioimaplib.Response) -> int:
    for line in response.lines:
        if line.startswith(b"OK [UIDVALIDITY "):
            return int(line.split()[2].rstrip(b"]"))
    raise AssertionError(f"no UIDVALIDITY in {response.lines!r}")


# -- IMAP ------------------------------------------------------------------------------------

async def test_reading_with_aioimaplib_leaves_seen_to_the_app(imap: DovecotServer) -> None:
    box = imap.new_mailbox()
    unread = await box.append_async(letter("Нет связи", "unread"))
    read = await box.append_async(letter("Старое", "read"), flags=["\\Seen"])
    assert (unread, read) == (1, 2)

    async with connected(box, select=None) as client:
        selected = await client.imap.select("INBOX")
        assert selected_uidvalidity(selected) == await box.uidvalidity_async()
        assert uids_of(await client.imap.uid_search("UNSEEN")) == [unread]

        fetched = await client.imap.uid("fetch", str(unread), "(BODY.PEEK[])")
        assert fetched.result == "OK"
        assert bytes(fetched.lines[1]) == letter("Нет связи", "unread")
        assert await box.flags_async(unread) == set(), "BODY.PEEK[] must not set \\Seen"

        stored = await client.imap.uid("store", str(unread), "+FLAGS", "(\\Seen)")
        assert stored.result == "OK"
        assert await box.flags_async(unread) == {"\\Seen"}
        assert uids_of(await client.imap.uid_search("UNSEEN")) == []
    assert await box.fetch_async(read) == letter("Старое", "read")


async def test_idle_pushes_a_delivery_from_another_connection(imap: DovecotServer) -> None:
    box = imap.new_mailbox()
    async with connected(box) as client:
        idle = await client.imap.idle_start(timeout=20)
        started = time.monotonic()
        uid = await box.append_async(letter("Срочно", "idle"))
        push = await client.imap.wait_server_push(timeout=10)
        latency = time.monotonic() - started
        assert b"1 EXISTS" in push, push  # a sequence number, not the UID
        client.imap.idle_done()
        assert (await asyncio.wait_for(idle, 5)).result == "OK"
        assert uids_of(await client.imap.uid_search("UNSEEN")) == [uid]
        assert latency < 5


async def test_recreate_gives_a_new_uidvalidity_and_restarts_uids(imap: DovecotServer) -> None:
    box = imap.new_mailbox()
    for n in range(3):
        await box.append_async(letter(f"№{n}", f"keep-{n}"), flags=["\\Seen"] if n == 1 else [])
    await box.add_flags_async(3, "\\Flagged")
    old = await box.uidvalidity_async()

    async with connected(box) as client:
        await client.imap.idle_start(timeout=20)
        new = await box.recreate_async()  # like a server rebuilt from a backup
        assert await client.imap.wait_server_push(timeout=5) == [b"BYE Server shutting down."]
        await asyncio.wait_for(client.lost.wait(), 5)

    # twice within the same second still changes it: UIDVALIDITY is not just the clock
    newer = await box.recreate_async()
    assert old < new < newer
    assert await box.uids_async() == [1, 2, 3]
    assert [await box.flags_async(uid) for uid in (1, 2, 3)] == [set(), {"\\Seen"}, {"\\Flagged"}]
    async with connected(box, select=None) as client:
        assert selected_uidvalidity(await client.imap.select("INBOX")) == newer
        status = await client.imap.status("INBOX", "(UIDVALIDITY UIDNEXT)")
        assert f"UIDNEXT 4 UIDVALIDITY {newer}".encode() in status.lines[0]


@pytest.mark.parametrize("folder", ["INBOX", "Archive"])
async def test_recreate_empty_hands_out_uid_1_again(imap: DovecotServer, folder: str) -> None:
    box = imap.new_mailbox()
    if folder != "INBOX":
        await box.create_folder_async(folder)
        assert await asyncio.to_thread(box.folders) == ["Archive", "INBOX"]
    for n in range(3):
        await box.append_async(letter(f"№{n}", f"gone-{n}"), folder=folder)
    old = await box.uidvalidity_async(folder)

    new = await box.recreate_async(folder, keep_mail=False)

    assert new != old and await box.uidvalidity_async(folder) == new
    assert await box.uids_async(folder) == []
    assert await box.append_async(letter("Новое", "after"), folder=folder) == 1
    assert await box.uids_async(folder, "UNSEEN") == [1]


async def test_a_user_added_while_running_logs_in_at_once(imap: DovecotServer) -> None:
    address, password = f"late-{time.monotonic_ns()}@example.test", "Secret-42"
    stranger = Mailbox(address, password, imap.host, imap.port, imap)
    client = Client(stranger)
    await client.imap.wait_hello_from_server()
    started = time.monotonic()
    refused = await client.imap.login(address, password)
    assert refused.result == "NO" and b"AUTHENTICATIONFAILED" in refused.lines[-1]
    assert time.monotonic() - started < 1, "no 2-second failure delay on this server"

    imap.add_user(address, password)  # in the same second as the failed lookup

    assert (await client.imap.login(address, password)).result == "OK"
    await client.imap.logout()
    assert imap.new_mailbox().address != imap.new_mailbox().address


async def test_a_wrong_password_is_refused_without_slowing_later_logins(
        imap: DovecotServer) -> None:
    box = imap.new_mailbox()
    client = Client(box)
    await client.imap.wait_hello_from_server()
    assert (await client.imap.login(box.address, box.password + "x")).result == "NO"
    started = time.monotonic()
    assert (await client.imap.login(box.address, box.password)).result == "OK"
    # Dovecot's auth penalty would hold this login from 127.0.0.1 back for 4 s
    assert time.monotonic() - started < 2
    await client.imap.logout()


async def test_stop_leaves_no_process_and_no_files() -> None:
    server = DovecotServer()
    try:
        started = time.monotonic()
        await asyncio.to_thread(server.start)
        assert time.monotonic() - started < 10
        assert server.process is not None and server.root is not None
        root, session = server.root, server.process.pid
        box = server.new_mailbox()
        async with connected(box) as client:  # a client still connected when the server stops
            await client.imap.idle_start(timeout=20)
            assert len(_processes_in_session(session)) >= 4  # master, log, config, auth, imap
            await asyncio.to_thread(server.stop)
            await asyncio.wait_for(client.lost.wait(), 5)
    finally:
        server.stop()  # idempotent

    assert not root.exists()
    assert _pgrep("-f", str(root)) == []
    await eventually(lambda: _processes_in_session(session) == [], timeout=5)


async def test_a_killed_test_process_leaves_no_dovecot_behind() -> None:
    script = ("import sys\nfrom tests.support.mail import DovecotServer\n"
              "server = DovecotServer()\nserver.start()\n"
              "print(server.root, server.process.pid, flush=True)\nsys.stdin.read()\n")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=REPO, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stderr is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line, (await child.stderr.read()).decode()
        root, session = Path(line.split()[0].decode()), int(line.split()[1])
        assert _processes_in_session(session) and root.exists()
        child.kill()  # no stop(), no finally: like a CI timeout
        await child.wait()
        await eventually(lambda: _processes_in_session(session) == [], timeout=10)
        await eventually(lambda: not root.exists(), timeout=10)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


def test_missing_dovecot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(mail, "SYSTEM_BIN_DIRS", ())
    with pytest.raises(RuntimeError, match=r"run scripts/install-mailserver\.sh \(or make test"):
        DovecotServer().start()


def test_a_failed_start_shows_dovecot_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail, "_dovecot_config", lambda *_args: "no_such_setting = 1\n")
    server = DovecotServer(start_timeout=10)
    with pytest.raises(RuntimeError, match="no_such_setting") as failed:
        server.start()
    assert "exited" in str(failed.value)
    assert server.root is None and server.process is None


def _processes_in_session(session: int) -> list[str]:
    """Live (not zombie) processes of the session Dovecot's master leads."""
    found = []
    for pid in _pgrep("-s", str(session)):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                found.append(pid)
    return found


def _pgrep(*args: str) -> list[str]:
    done = subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False)
    return [pid for pid in done.stdout.split() if pid != str(os.getpid())]


# -- SMTP ------------------------------------------------------------------------------------

def reply(subject: str = "Re: Нет связи", to: str = "client@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "support@abonent.test"
    message["To"] = to
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("Здравствуйте! Проверьте роутер.")
    return message


async def send(sink: SmtpSink, message: EmailMessage, *, username: str | None = None,
               password: str | None = None) -> None:
    await aiosmtplib.send(message, hostname=sink.host, port=sink.port, start_tls=False,
                          timeout=10, username=username, password=password)


async def test_sink_captures_what_aiosmtplib_sends(smtp: SmtpSink) -> None:
    await send(smtp, reply())
    await send(smtp, reply("Второе", to="other@example.test"))
    first, second = await smtp.wait_for_async(2)
    assert first.mail_from == "support@abonent.test"
    assert first.rcpt_tos == ["client@example.test"]
    assert first.message["Subject"] == "Re: Нет связи"
    assert first.message["Auto-Submitted"] == "auto-replied"
    assert first.message.get_content().strip() == "Здравствуйте! Проверьте роутер."
    assert first.raw.startswith(b"From: support@abonent.test\r\n") and b"=?utf-8?" in first.raw
    assert second.rcpt_tos == ["other@example.test"]
    assert smtp.messages == [first, second]


async def test_sink_can_demand_a_login(smtp: SmtpSink) -> None:
    smtp.require_auth("abonent", "smtp-pass")
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as anonymous:
        await send(smtp, reply())
    assert anonymous.value.code == 530
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
        await send(smtp, reply(), username="abonent", password="nope")
    assert wrong.value.code == 535
    assert smtp.messages == []

    await send(smtp, reply(), username="abonent", password="smtp-pass")
    assert len(await smtp.wait_for_async(1)) == 1
    assert smtp.logins == ["abonent"]

    smtp.reset()
    await send(smtp, reply())
    assert len(await smtp.wait_for_async(1)) == 1 and smtp.logins == []


async def test_fail_next_refuses_a_recipient_once(smtp: SmtpSink) -> None:
    smtp.fail_next("rcpt", 451, "4.3.0 Try again later")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(smtp, reply())
    [recipient] = refused.value.recipients
    assert isinstance(recipient, aiosmtplib.SMTPRecipientRefused)
    assert (recipient.code, recipient.recipient) == (451, "client@example.test")
    assert smtp.messages == []
    await send(smtp, reply())
    assert len(await smtp.wait_for_async(1)) == 1


@pytest.mark.parametrize(("stage", "code", "text", "error"), [
    ("mail", 451, "4.3.0 Try again later", aiosmtplib.SMTPSenderRefused),
    ("data", 550, "5.1.1 No such user", aiosmtplib.SMTPDataError),
])
async def test_fail_next_at_other_stages(smtp: SmtpSink, stage: mail.Stage, code: int,
                                         text: str, error: type[Exception]) -> None:
    smtp.fail_next(stage, code, text, times=2)
    for _ in range(2):
        with pytest.raises(error) as failed:
            await send(smtp, reply())
        assert isinstance(failed.value, aiosmtplib.SMTPResponseException)
        assert (failed.value.code, failed.value.message) == (code, text)
    await send(smtp, reply())
    assert len(await smtp.wait_for_async(1)) == 1


async def test_wait_for_reports_what_did_arrive(smtp: SmtpSink) -> None:
    await send(smtp, reply("Единственное"))
    with pytest.raises(AssertionError, match="got 1.*Единственное"):
        await smtp.wait_for_async(2, timeout=0.2)
    with pytest.raises(AssertionError, match="got 1"):
        await asyncio.to_thread(smtp.wait_for, 2, 0.2)


def test_wait_for_wakes_up_on_delivery_and_stop_ends_the_thread() -> None:
    before = set(threading.enumerate())
    with SmtpSink() as sink:
        sender = threading.Thread(target=asyncio.run, args=(send(sink, reply()),))
        sender.start()
        assert len(sink.wait_for(1, timeout=10)) == 1
        sender.join(10)
    assert set(threading.enumerate()) - before == set()
