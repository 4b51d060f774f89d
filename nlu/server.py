"""Run a local Rasa server (`rasa run --enable-api`) as a child process and wait until it answers.

The server is started through :mod:`nlu.rasa_launcher`, so its token never appears on a command
line and (on Linux) it dies with the process that started it. Its state file lets the next start
deal with a server a crashed app left behind: reuse it when it serves our model with our token,
else stop it — but only after ``/proc`` confirms the pid is really our launcher on that port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Self

import httpx

from nlu.errors import NluError
from nlu.rasa_launcher import PARENT_VARIABLE, TOKEN_VARIABLE
from nlu.redact import install_token_redaction
from nlu.server_state import (
    LAUNCHER_MODULE,
    RasaState,
    is_orphan,
    is_our_rasa,
    read_state,
    terminate,
    token_hash,
    write_state,
)
from nlu.training import PROJECT_ROOT, rasa_environment, rasa_python

log = logging.getLogger(__name__)


PORT_RELEASE_SECONDS = 5.0


class RasaStartFailed(NluError):
    """The local Rasa server exited, did not become ready in time, or its port is taken."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


class RasaServer:
    """``async with RasaServer(...) as rasa:`` starts Rasa with ``model`` and stops it after."""

    def __init__(
        self,
        model: Path,
        *,
        venv: Path,
        port: int | None = None,
        token: str | None = None,
        startup_timeout: float = 240.0,
        run_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.venv = venv
        self.port = port or free_port()
        self.token = token or secrets.token_hex(24)
        install_token_redaction()  # the readiness probes carry it in their URL
        self.url = f"http://127.0.0.1:{self.port}"
        self.reused = False  # True when a server left behind by a crashed app was taken over
        self._timeout = startup_timeout
        run_dir = run_dir or PROJECT_ROOT / "build"
        self._log_file = run_dir / f"rasa-{self.port}.log"
        self._state_file = run_dir / f"rasa-{self.port}.json"
        self._process: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None  # pid of a taken-over server (not our child)

    @property
    def pid(self) -> int | None:
        if self._process is not None:
            return self._process.pid
        return self._adopted

    async def start(self) -> None:
        python = rasa_python(self.venv)
        if await self._take_over_leftover():
            return
        if port_in_use(self.port):
            raise RasaStartFailed(self._port_taken_message())
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file = self._log_file.open("ab")
        environment = rasa_environment(
            {TOKEN_VARIABLE: self.token, PARENT_VARIABLE: str(os.getpid())}
        )
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(python), "-m", LAUNCHER_MODULE, "run", "--enable-api",
                "-m", str(self.model), "-i", "127.0.0.1", "-p", str(self.port),
                cwd=PROJECT_ROOT, env=environment, stdout=log_file, stderr=log_file,
                # its own session: a Ctrl-C in the terminal reaches only the app, which then
                # stops Rasa in order (and its shutdown does not race Rasa's)
                start_new_session=True,
            )
        finally:
            log_file.close()
        self._write_state(self._process.pid)
        try:
            await self._wait_ready()
        except BaseException:  # also a cancellation (SIGTERM during the 40 s start-up)
            await self.stop()
            raise

    def _write_state(self, pid: int) -> None:
        write_state(
            self._state_file,
            RasaState(
                pid=pid, owner=os.getpid(), port=self.port, model=self.model.name,
                token_sha256=token_hash(self.token),
            ),
        )

    async def _take_over_leftover(self) -> bool:
        """Deal with a server recorded for this port: reuse it, stop it, or leave it (not ours)."""
        state = read_state(self._state_file)
        if state is None:
            return False
        if not is_our_rasa(state.pid, self.port):
            self._state_file.unlink(missing_ok=True)  # gone, or the pid now names another program
            return False
        if not is_orphan(state):
            return False  # another running app's server: the port check explains
        if (
            state.model == self.model.name
            and state.token_sha256 == token_hash(self.token)
            and await self._answers()
        ):
            log.info("reusing the Rasa server (pid %d) a previous run left on port %d",
                     state.pid, self.port)
            self._adopted, self.reused = state.pid, True
            self._write_state(state.pid)
            return True
        log.warning("stopping the Rasa server (pid %d) a previous run left on port %d",
                    state.pid, self.port)
        await terminate(state.pid)
        self._state_file.unlink(missing_ok=True)
        # its port can stay taken for a moment after it is gone (a busy machine, a child that
        # still holds the socket): give it a few seconds before calling the port someone else's
        for _ in range(int(PORT_RELEASE_SECONDS / 0.1)):
            if not port_in_use(self.port):
                break
            await asyncio.sleep(0.1)
        return False

    def _port_taken_message(self) -> str:
        state = read_state(self._state_file)
        if state is not None and is_our_rasa(state.pid, self.port) and not is_orphan(state):
            return (
                f"Port {self.port} is used by the Rasa server of another running Abonent "
                f"(pid {state.owner}); stop that one, or set RASA_PORT to a free port."
            )
        return (
            f"Port {self.port} is already in use by another program; stop it, set RASA_PORT to a "
            "free port, or RASA_URL (and RASA_TOKEN) to use the Rasa server that runs there."
        )

    async def _answers(self) -> bool:
        async with httpx.AsyncClient(timeout=5.0) as http:
            try:
                response = await http.get(f"{self.url}/status", params={"token": self.token})
            except httpx.HTTPError:
                return False
        if response.status_code != 200:
            return False
        try:
            return bool(response.json().get("model_file") == self.model.name)
        except (ValueError, AttributeError):
            return False

    async def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = asyncio.get_running_loop().time() + self._timeout
        async with httpx.AsyncClient(timeout=5.0) as http:
            while asyncio.get_running_loop().time() < deadline:
                if self._process.returncode is not None:
                    raise RasaStartFailed(
                        f"Rasa exited with code {self._process.returncode}; see {self._log_file}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await http.get(f"{self.url}/status", params={"token": self.token})
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.5)
        raise RasaStartFailed(
            f"Rasa did not answer within {self._timeout:.0f} s; see {self._log_file}"
        )

    async def stop(self) -> None:
        process, self._process = self._process, None
        adopted, self._adopted = self._adopted, None
        if process is None and adopted is None:
            return
        try:
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            elif adopted is not None and is_our_rasa(adopted, self.port):
                await terminate(adopted)
        finally:
            self._state_file.unlink(missing_ok=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
