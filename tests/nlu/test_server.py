"""The local Rasa server's life: token off the command line, stopped with its parent, and a
server left behind by a crashed app reused or stopped (never someone else's process).

Most tests run the real launcher and process handling against a stand-in Rasa package
(tests/support/fake_rasa_venv.py); the last one checks the real server of the `rasa_server` fixture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from nlu.server import RasaServer, RasaStartFailed, free_port
from nlu.server_state import RasaState, is_running, token_hash, write_state
from nlu.training import PROJECT_ROOT, rasa_environment
from tests.support.app import ExternalRasa
from tests.support.fake_rasa_venv import FakeRasaVenv, make_fake_rasa_venv
from tests.support.processes import all_gone

# starts with "-": argparse would take it for an option if it were a separate argument
TOKEN = "-fake-" + "7" * 20


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeRasaVenv:
    fake = make_fake_rasa_venv(tmp_path / "fake")
    monkeypatch.setenv("PYTHONPATH", str(fake.pythonpath))
    return fake


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "nlu-0123456789abcdef.tar.gz"
    path.write_bytes(b"fake model")
    return path


def server(fake: FakeRasaVenv, model: Path, tmp_path: Path, **kw: object) -> RasaServer:
    return RasaServer(model, venv=fake.venv, run_dir=tmp_path / "run", **kw)  # type: ignore[arg-type]


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def status(url: str, token: str) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"{url}/status", params={"token": token})).status_code


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself (with :func:`spawn`); killed and reaped whatever happens."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def spawn(
    spawned: list[subprocess.Popen[bytes]], args: list[str], **kw: object
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, **kw)  # type: ignore[call-overload]
    spawned.append(process)
    return process  # type: ignore[no-any-return]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def leftover(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, port: int, token: str,
    spawned: list[subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """A server as a crashed app leaves it: running, its state file naming a dead owner."""
    env = rasa_environment({"ABONENT_RASA_TOKEN": token})
    process = spawn(
        spawned,
        [str(fake.venv / "bin" / "python"), "-m", "rasa_launcher", "run", "--enable-api",
         "-m", str(model), "-i", "127.0.0.1", "-p", str(port)],
        env=env, cwd=PROJECT_ROOT, start_new_session=True,
    )
    write_state(
        tmp_path / "run" / f"rasa-{port}.json",
        RasaState(pid=process.pid, owner=dead_pid(), port=port, model=model.name,
                  token_sha256=token_hash(token)),
    )
    for _ in range(100):
        try:
            if await status(f"http://127.0.0.1:{port}", token) == 200:
                return process
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    raise AssertionError("the leftover server did not start")


async def test_the_token_is_not_on_the_command_line(
    fake: FakeRasaVenv, model: Path, tmp_path: Path
) -> None:
    async with server(fake, model, tmp_path, token=TOKEN) as rasa:
        assert rasa.pid is not None
        assert TOKEN not in cmdline(rasa.pid)
        assert "rasa_launcher" in cmdline(rasa.pid)
        # the server got the token intact (the fake answers 200 only to its --auth-token)
        assert await status(rasa.url, TOKEN) == 200
        assert await status(rasa.url, "wrong") == 401
        state_file = tmp_path / "run" / f"rasa-{rasa.port}.json"
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        assert TOKEN not in state_file.read_text()
        pid = rasa.pid
    assert await all_gone([pid])
    assert not state_file.exists()


async def test_rasa_dies_with_the_process_that_started_it(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # a parent that starts Rasa, says its pid and is then killed with SIGKILL (no clean-up runs)
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from nlu.server import RasaServer

        async def main():
            rasa = RasaServer(Path({str(model)!r}), venv=Path({str(fake.venv)!r}),
                              run_dir=Path({str(tmp_path / "run")!r}))
            await rasa.start()
            print(rasa.pid, flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
    """)
    pythonpath = os.pathsep.join((str(PROJECT_ROOT), str(fake.pythonpath)))
    parent = spawn(
        spawned, [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    assert parent.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), 60)
    rasa_pid = int(line)
    try:
        assert is_running(rasa_pid)
        parent.kill()
        parent.wait(10)
        assert await all_gone([rasa_pid]), "Rasa outlived the app that was killed with SIGKILL"
    finally:
        if is_running(rasa_pid):
            os.kill(rasa_pid, signal.SIGKILL)


async def test_a_cancelled_start_stops_rasa(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGTERM during Rasa's start-up cancels the main task: the half-started server must go too
    monkeypatch.setenv("FAKE_RASA_DELAY", "30")
    rasa = server(fake, model, tmp_path)
    starting = asyncio.create_task(rasa.start())
    for _ in range(100):
        if rasa.pid is not None:
            break
        await asyncio.sleep(0.05)
    pid = rasa.pid
    assert pid is not None
    try:
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        assert await all_gone([pid])
    finally:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


async def test_a_leftover_server_with_our_model_and_token_is_reused(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    old = await leftover(fake, model, tmp_path, port, TOKEN, spawned)
    async with server(fake, model, tmp_path, port=port, token=TOKEN) as rasa:
        assert rasa.reused
        assert rasa.pid == old.pid
        assert await status(rasa.url, TOKEN) == 200
    # taken over means owned: stopping the app stops it
    assert await all_gone([old.pid])


async def test_a_leftover_server_with_another_token_is_stopped_and_replaced(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    old = await leftover(fake, model, tmp_path, port, "an-old-random-token", spawned)
    async with server(fake, model, tmp_path, port=port, token=TOKEN) as rasa:
        assert not rasa.reused
        assert rasa.pid != old.pid
        assert await all_gone([old.pid], 1)
        assert await status(rasa.url, TOKEN) == 200


async def test_a_port_held_by_another_program_is_never_touched(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # a stale state file whose pid now names an unrelated process, and the port taken by another
    # program: nothing is killed, and the error says what to do
    bystander = spawn(spawned, [sys.executable, "-c", "import time; time.sleep(60)"])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        write_state(
            tmp_path / "run" / f"rasa-{port}.json",
            RasaState(pid=bystander.pid, owner=dead_pid(), port=port, model=model.name,
                      token_sha256=token_hash(TOKEN)),
        )
        with pytest.raises(RasaStartFailed, match=f"Port {port} is already in use.*RASA_PORT"):
            await server(fake, model, tmp_path, port=port, token=TOKEN).start()
    assert bystander.poll() is None


async def test_the_server_of_another_running_app_is_left_alone(
    fake: FakeRasaVenv, model: Path, tmp_path: Path
) -> None:
    async with server(fake, model, tmp_path, token=TOKEN) as first:
        second = server(fake, model, tmp_path, port=first.port, token=TOKEN)
        with pytest.raises(RasaStartFailed, match="another running Abonent"):
            await second.start()
        assert await status(first.url, TOKEN) == 200


@pytest.fixture
async def real_rasa(rasa_server: RasaServer | ExternalRasa) -> AsyncIterator[RasaServer]:
    if isinstance(rasa_server, ExternalRasa):
        pytest.skip("the Rasa server is someone else's (ABONENT_TEST_RASA_URL)")
    yield rasa_server


@pytest.mark.rasa
async def test_the_real_server_keeps_its_token_off_the_command_line(real_rasa: RasaServer) -> None:
    assert real_rasa.token.startswith("-")  # the fixture's token; it still authenticates
    assert real_rasa.pid is not None
    assert real_rasa.token not in cmdline(real_rasa.pid)
    assert await status(real_rasa.url, real_rasa.token) == 200
    state = json.loads((PROJECT_ROOT / "build" / f"rasa-{real_rasa.port}.json").read_text())
    assert state["pid"] == real_rasa.pid
    assert real_rasa.token not in json.dumps(state)


async def test_the_readiness_probes_never_log_the_token(
    fake: FakeRasaVenv, model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as in `abonent nlu eval`, which starts Rasa before any NLU client exists: httpx logs each
    # probe's URL, and Rasa's scheme puts the token in it
    monkeypatch.setattr(logging.getLogger("httpx"), "filters", [])
    caplog.set_level(logging.INFO, logger="httpx")
    async with server(fake, model, tmp_path, token=TOKEN):
        pass
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any("/status?token=***" in line for line in lines)
    assert not any(TOKEN in line for line in lines)
