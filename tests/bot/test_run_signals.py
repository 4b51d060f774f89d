"""`abonent run` stopped with SIGTERM, SIGINT or SIGKILL leaves no Rasa server behind, and the
next start on the same port works.

The first tests run the real app with a stand-in Rasa package (one second to start); the last one
runs it with the real Rasa and the trained model (about 45 s per start).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlu.server import port_in_use
from nlu.server_state import is_running
from nlu.training import PROJECT_ROOT
from tests.support.fake_rasa_venv import make_fake_rasa_venv
from tests.support.processes import all_gone
from tests.support.servers import free_port


def rasa_pids(port: int) -> list[int]:
    """Running processes whose command line is a Rasa server on ``port`` (however started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        rasa = any("rasa" in a for a in args) and "run" in args
        on_port = any(a == "-p" and b == str(port) for a, b in itertools.pairwise(args))
        if rasa and on_port and is_running(int(entry.name)):
            pids.append(int(entry.name))
    return pids


class App:
    """``python -m bot.cli run`` as a child; signals go to its pid only, as `kill PID` does."""

    def __init__(self, env: dict[str, str], log: Path, *command: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = command or ("run", "--port", str(self.port))
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *command],
                # the test's own directory: no developer's .env is read
                env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_healthy(self, seconds: float) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(int(seconds / 0.25)):
                if self.process.poll() is not None:
                    raise AssertionError(f"app exited with {self.process.returncode}: "
                                         f"{self.log.read_text()[-2000:]}")
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise AssertionError("app did not become healthy")

    async def exit_code(self, seconds: float = 60) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), seconds)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[tuple[App, int]]]:
    """(app, Rasa port) pairs a test started: everything is killed at the end, whatever happens."""
    apps: list[tuple[App, int]] = []
    yield apps
    for app, rasa_port in apps:
        app.kill()
        for pid in rasa_pids(rasa_port):
            os.kill(pid, signal.SIGKILL)


def app_env(tmp_path: Path, rasa_port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RASA_URL", "RASA_TOKEN")}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'abonent.db'}",
        RASA_PORT=str(rasa_port),
        ABONENT_MODELS_DIR=str(PROJECT_ROOT / "models"),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), extra.pop("PYTHONPATH", "")) if p),
    )
    env.update(extra)
    return env


async def stop_and_check(app: App, signum: int, rasa_port: int) -> int:
    """Send ``signum`` to the app; its Rasa must be gone and the port free. Returns the exit code."""
    rasa = rasa_pids(rasa_port)
    assert rasa, "no Rasa server found on its port"
    app.process.send_signal(signum)
    code = await app.exit_code()
    assert await all_gone(rasa), f"Rasa {rasa} outlived the app stopped with {signum!r}"
    assert not port_in_use(rasa_port)
    return code


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130), (signal.SIGKILL, -9)],
)
async def test_a_stopped_app_leaves_no_rasa_behind(
    signum: signal.Signals, code: int, tmp_path: Path, started: list[tuple[App, int]]
) -> None:
    fake = make_fake_rasa_venv(tmp_path / "fake")
    rasa_port = free_port()
    env = app_env(tmp_path, rasa_port, ABONENT_MODELS_DIR=str(tmp_path / "models"),
                  **fake.environment())
    app = App(env, tmp_path / "app.log")
    started.append((app, rasa_port))
    await app.wait_healthy(120)
    assert await stop_and_check(app, signum, rasa_port) == code
    if signum == signal.SIGKILL:
        # nothing ran in the app after SIGKILL, yet the next start on the same port works
        again = App(env, tmp_path / "app-again.log")
        started.append((again, rasa_port))
        await again.wait_healthy(120)
        assert await stop_and_check(again, signal.SIGTERM, rasa_port) == 128 + signal.SIGTERM


async def test_nlu_serve_stops_rasa_on_sigterm(
    tmp_path: Path, started: list[tuple[App, int]]
) -> None:
    fake = make_fake_rasa_venv(tmp_path / "fake")
    rasa_port = free_port()
    env = app_env(tmp_path, rasa_port, ABONENT_MODELS_DIR=str(tmp_path / "models"),
                  **fake.environment())
    serve = App(env, tmp_path / "serve.log", "nlu", "serve")
    started.append((serve, rasa_port))
    for _ in range(600):
        if "Press Ctrl-C" in serve.log.read_text() or serve.process.poll() is not None:
            break
        await asyncio.sleep(0.2)
    assert "Press Ctrl-C" in serve.log.read_text(), serve.log.read_text()[-2000:]
    assert await stop_and_check(serve, signal.SIGTERM, rasa_port) == 128 + signal.SIGTERM


@pytest.mark.rasa
async def test_the_real_rasa_stops_with_the_app_and_the_next_start_works(
    tmp_path: Path, started: list[tuple[App, int]]
) -> None:
    rasa_port = free_port()
    # a token that starts with "-" must still reach Rasa, and never its command line
    token = "-" + os.urandom(12).hex()
    env = app_env(tmp_path, rasa_port, RASA_TOKEN=token)
    for signum, code in ((signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)):
        app = App(env, tmp_path / f"app-{signum.name}.log")
        started.append((app, rasa_port))
        await app.wait_healthy(300)
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text  # the NLU answers with the "-" token
        for pid in rasa_pids(rasa_port):
            assert token not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert await stop_and_check(app, signum, rasa_port) == code
