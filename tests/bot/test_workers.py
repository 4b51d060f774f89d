"""``ABONENT_WORKERS=N`` (bot/workers.py): `abonent run` as N app processes on one port over
PostgreSQL, all stopped by one SIGTERM; refused on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.workers import bind
from nlu.server_state import is_running
from nlu.training import PROJECT_ROOT
from tests.support.fake_rasa import FakeRasa
from tests.support.processes import all_gone
from tests.support.servers import free_port

WAIT = 90.0  # start-up bound on a busy 2-core machine; never a speed check


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa(token="workers-test") as rasa:
        yield rasa


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RASA_", "ABONENT_", "DATABASE_URL", "TELEGRAM_", "VK_", "EMAIL_"))}
    env.update(DATABASE_URL=database_url, ABONENT_WORKERS="2",
               PYTHONPATH=str(PROJECT_ROOT), **extra)
    return env


def worker_pids(parent: int) -> list[int]:
    """The parent's spawned app workers (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("PPid:"))
        if ppid == parent and "spawn_main" in cmdline and is_running(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


@contextlib.contextmanager
def abonent_run(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--port", str(port)],
            env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


async def chat(url: str, user: str) -> dict[str, object]:
    # a new client each time: no kept-alive connection pins a worker
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        answer = await http.post("/api/webchat/messages", json={"user_id": user, "text": "привет"})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(int(WAIT / 0.25)):
            assert process.poll() is None, f"exited {process.returncode}: {log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise AssertionError(f"not ready: {log.read_text()[-3000:]}")


@pytest.mark.postgres
async def test_two_workers_serve_one_port_and_stop_together(
    postgres_url: str, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "app.log"
    env = environment(postgres_url, RASA_URL=fake_rasa.url, RASA_TOKEN="workers-test")
    with abonent_run(env, port, log) as app:
        await wait_healthy(url, app, log)
        workers = worker_pids(app.pid)
        assert len(workers) == 2, (workers, log.read_text()[-3000:])
        # each worker alone (the other paused, so it accepts nothing) answers the web chat
        for paused, serving in (workers, reversed(workers)):
            os.kill(paused, signal.SIGSTOP)
            try:
                body = await chat(url, f"u-{uuid.uuid4().hex[:8]}")
                assert body["replies"], body
                assert is_running(serving)
            finally:
                os.kill(paused, signal.SIGCONT)
        app.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(app.wait), 60)
        assert code == 128 + signal.SIGTERM, log.read_text()[-3000:]
        assert await all_gone(workers), f"workers {workers} outlived the app"


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'abonent.db'}",
                      RASA_URL="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode != 0
    assert "ABONENT_WORKERS=2 needs PostgreSQL" in done.stderr, done.stderr
    assert not (tmp_path / "abonent.db").exists()  # nothing started, nothing created


async def test_connections_on_the_shared_socket_send_without_delay() -> None:
    """Small answers must leave at once (TCP_NODELAY): asyncio sets it on accepted connections
    only when the listening socket says IPPROTO_TCP, and without it every answer of a worker
    waited out a 40 ms delayed ACK (15 msg/s at one client instead of 40)."""
    listening = bind("127.0.0.1", 0)
    nodelay: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nodelay.append(writer.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=listening)
    try:
        port = listening.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            while not nodelay:
                await asyncio.sleep(0.01)
        writer.close()
        assert nodelay == [1]
    finally:
        server.close()
        await server.wait_closed()
