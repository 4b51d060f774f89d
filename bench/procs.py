"""Process supervision for the benchmark: start a server in its own process group, wait until it
answers, stop the whole group (also on Ctrl-C or an error), and sample what it costs (RSS, CPU).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import psutil


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says what failed and where its log is."""


def log_tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return ""


class Supervised:
    """A server process in a new session (its own process group), output to ``log_file``.

    Stopping signals the whole group, so the workers an app forks go with it; a group that does
    not stop within ``stop_timeout`` seconds is killed.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_file: Path,
        cwd: Path,
        stop_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = dict(env)
        self.log_file = log_file
        self._cwd = cwd
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise BenchError(f"{self.name} is not running")
        return self._process.pid

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self._argv, env=self._env, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def check_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise BenchError(
                f"{self.name} exited with code {self._process.returncode}; the end of its log "
                f"({self.log_file}):\n{log_tail(self.log_file)}"
            )

    def processes(self) -> list[psutil.Process]:
        """The process and all its descendants (an app's workers), as they are now."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_ready(self, probe: Callable[[httpx.Client], bool], timeout: float) -> float:
        """Poll ``probe`` until it says yes; returns the seconds it took."""
        started = time.monotonic()
        with httpx.Client(timeout=5.0) as http:
            while time.monotonic() - started < timeout:
                self.check_running()
                with contextlib.suppress(httpx.HTTPError):
                    if probe(http):
                        return time.monotonic() - started
                time.sleep(0.5)
        raise BenchError(
            f"{self.name} did not become ready within {timeout:.0f} s; see {self.log_file}:\n"
            f"{log_tail(self.log_file)}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(self._stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        # the group's other members (workers) may outlive the leader: make sure they are gone
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User + system CPU seconds used so far by ``processes`` (ones that vanished count 0)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            total += times.user + times.system
    return total


class RssSampler:
    """Samples the resident memory of each process of some servers in a background thread and
    keeps each process's maximum (bytes), by server name and pid."""

    def __init__(self, servers: Sequence[Supervised], interval: float = 0.25) -> None:
        self._servers = list(servers)
        self._interval = interval
        self.max_rss: dict[str, dict[int, int]] = {s.name: {} for s in servers}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        for server in self._servers:
            peaks = self.max_rss[server.name]
            for process in server.processes():
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    rss = process.memory_info().rss
                    peaks[process.pid] = max(peaks.get(process.pid, 0), rss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
