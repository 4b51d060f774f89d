"""The real app as a child process (``python -m bot.cli run``), for crash and restart tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from nlu.server_state import is_running


class AppProcess:
    """Start with an environment (RASA_URL, DATABASE_URL, ABONENT_FAILPOINT...), wait, stop.

    The child leads its own process group, so ``kill()`` (SIGKILL) and ``stop()`` (SIGTERM)
    reach everything it started and nothing of ours.
    """

    def __init__(
        self, env: dict[str, str], port: int, log: Path, *, cwd: Path | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--port", str(port)],
            env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(timeout=5.0) as http:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"app exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"app did not become healthy within {timeout:.0f} s")

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole process group, like the OOM killer or a power cut: no clean-up."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(20)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:  # a stuck shutdown must not leak a process
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(20)
        self._log.close()


async def all_gone(pids: list[int], seconds: float = 20.0) -> bool:
    """Whether every process in ``pids`` has exited within ``seconds`` (polled)."""
    for _ in range(int(seconds / 0.1)):
        if not any(is_running(pid) for pid in pids):
            return True
        await asyncio.sleep(0.1)
    return False
