"""Run a local Rasa server (`rasa run --enable-api`) as a child process and wait until it answers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from pathlib import Path
from typing import Self

import httpx

from nlu.errors import NluError
from nlu.training import PROJECT_ROOT, rasa_environment, rasa_executable


class RasaStartFailed(NluError):
    """The local Rasa server exited or did not become ready in time."""


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
        log_file: Path | None = None,
    ) -> None:
        self.model = model
        self.venv = venv
        self.port = port or free_port()
        self.token = token or secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self._timeout = startup_timeout
        self._log_file = log_file or PROJECT_ROOT / "build" / f"rasa-{self.port}.log"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if port_in_use(self.port):
            raise RasaStartFailed(
                f"Port {self.port} is already in use; set RASA_PORT to a free port, or RASA_URL "
                "to use the Rasa server that runs there."
            )
        rasa = rasa_executable(self.venv)
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_file.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            str(rasa), "run", "--enable-api", "-m", str(self.model),
            # "=" form: a token may start with "-", which argparse would take for an option
            "-i", "127.0.0.1", "-p", str(self.port), f"--auth-token={self.token}",
            cwd=PROJECT_ROOT, env=rasa_environment(), stdout=log, stderr=log,
            start_new_session=True,
        )
        log.close()
        await self._wait_ready()

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
        await self.stop()
        raise RasaStartFailed(
            f"Rasa did not answer within {self._timeout:.0f} s; see {self._log_file}"
        )

    async def wait(self) -> int:
        assert self._process is not None
        return await self._process.wait()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
