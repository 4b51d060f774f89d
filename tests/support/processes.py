"""The real app as a child process (``python -m bot.cli run``), for crash and restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx


class AppProcess:
    """Start with an environment (RASA_URL, DATABASE_URL, ABONENT_FAILPOINT...), wait, stop."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--port", str(port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    async def wait_healthy(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise AssertionError(f"app exited with {self.process.returncode}")
                try:
                    if (await http.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("app did not become healthy")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        self._log.close()
