"""A system daemon run by a test as an ordinary process: its own temp dir, a free loopback port
(another one when someone takes it first), its own process group (so stopping it stops every
helper process it forked), and a watchdog that ends it if the test process dies without
``stop()``. ``DovecotServer`` (tests/support/mail.py) and ``NginxProxy`` (tests/support/nginx.py)
are the two; a subclass says how to configure, launch and probe its daemon:

    class Thing(LocalDaemon):
        name, install_hint, temp_prefix, log_name = "thing", "apt install thing", "t-", "t.log"
        def _locate(self): return find_binary("thing")
        def _launch(self, binary):             # one try on self.port
            write the config; self._spawn_daemon([binary, ...]); self._await_ready(probe, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, ClassVar, Self

from tests.support.servers import free_port

SYSTEM_BIN_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")
STOP_TIMEOUT = 10.0
# free_port() only probes: the port can be taken before the daemon binds it (other tests run
# in parallel); three unlucky draws in a row mean something else is wrong.
PORT_TRIES = 3
# Runs beside each daemon: stdin closing without the word "stopped" means the test process died
# (SIGKILL, a CI timeout), and the daemon, in its own session, would otherwise run on forever.
_WATCHDOG = """
import os, shutil, signal, sys
group, root = int(sys.argv[1]), sys.argv[2]
if sys.stdin.buffer.read() != b"stopped":
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    shutil.rmtree(root, ignore_errors=True)
"""


class PortTaken(Exception):
    """Someone took the free port between our probe and the daemon's bind: try another."""


def find_binary(name: str, dirs: Sequence[str] = SYSTEM_BIN_DIRS) -> str | None:
    """``name`` on PATH, or where Debian puts it (a non-root PATH often lacks the sbin dirs)."""
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in dirs:
        candidate = Path(folder) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class StartStop:
    """``with`` and ``async with`` for a test server with blocking ``start()`` and ``stop()``;
    the async forms run them in a thread so the test's event loop keeps running."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.to_thread(self.stop)


class LocalDaemon(StartStop):
    """Start/stop of one daemon; ``with`` or ``async with`` starts it and stops it on exit.

    ``stop()`` kills the daemon's whole process group and removes the temp dir (``root``), so
    whatever the daemon stored is gone with it."""

    host = "127.0.0.1"
    name: ClassVar[str]  # in messages: "nginx", "Dovecot"
    install_hint: ClassVar[str]
    temp_prefix: ClassVar[str]
    temp_parent: ClassVar[str | None] = None  # None: tempfile's default
    log_name: ClassVar[str]  # file under root that gets the daemon's stdout and stderr

    def __init__(self, *, start_timeout: float) -> None:
        self._start_timeout = start_timeout
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    # ----- for subclasses

    def _locate(self) -> str | None:
        """The daemon's executable, or None when it is not installed."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Set up ``root`` once, before the first try (dirs, permissions)."""

    def _launch(self, binary: str) -> None:
        """One try on ``self.port``: write the config, ``_spawn_daemon``, ``_await_ready``."""
        raise NotImplementedError

    def _failure_text(self) -> str:
        """What the daemon said, for errors (and to spot "Address already in use")."""
        raise NotImplementedError

    # ----- lifecycle

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError(f"this {type(self).__name__} is already running")
        binary = self._locate()
        if binary is None:
            raise RuntimeError(f"{self.name} is not installed: {self.install_hint}")
        self.root = Path(tempfile.mkdtemp(prefix=self.temp_prefix, dir=self.temp_parent))
        try:
            self._prepare()
            for _ in range(PORT_TRIES):
                self.port = free_port()
                try:
                    self._launch(binary)
                    return
                except PortTaken:
                    self._kill()
            raise RuntimeError(f"{self.name} found no free port in {PORT_TRIES} tries")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the daemon and everything it forked, then remove the temp dir. Idempotent."""
        self._kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _spawn_daemon(self, argv: Sequence[str]) -> None:
        assert self.root is not None
        if self._log is not None:
            self._log.close()
        self._log = (self.root / self.log_name).open("ab")
        # Own session: _kill() can signal the whole process tree, and nothing of ours.
        self.process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True,
        )
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.process.pid), str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _await_ready(self, probe: Callable[[], object], *,
                     retry_on: tuple[type[Exception], ...], not_ready: str) -> None:
        """Call ``probe`` until it returns; ``retry_on`` are its "not yet" errors. A daemon that
        exits first raises ``PortTaken`` (it lost the port) or RuntimeError (anything else);
        ``not_ready`` ("did not listen") words the timeout."""
        assert self.process is not None
        deadline = time.monotonic() + self._start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self._failure_text()
                if "Address already in use" in text:
                    raise PortTaken
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting:\n{text}")
            try:
                probe()
                return
            except retry_on as exc:
                last_error = exc
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} {not_ready} within {self._start_timeout:.0f} s "
                           f"({last_error!r}):\n{self._failure_text()}")

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                # SIGTERM lets the master stop its own children (nginx's workers); to the whole
                # group, because Dovecot's master alone waits ~1 s and exits while the imap
                # processes of connected clients live on for seconds.
                _signal_group(process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_TIMEOUT)
            # The master is gone (or stuck); whatever is left of its tree goes now.
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                watchdog.communicate(b"stopped", timeout=STOP_TIMEOUT)
            if watchdog.poll() is None:
                watchdog.kill()
                watchdog.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # ProcessLookupError: the group is already empty; PermissionError: nothing is left in it
    # that we may signal. Either way there is nothing more to stop.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
