"""Debian's nginx in front of app replicas, as an ordinary process: its own config, pid file, logs
and temp dirs in a fresh temp dir, a free loopback port, and an upstream of the given replicas
(round-robin, nginx's default).

    with NginxProxy(["127.0.0.1:8001", "127.0.0.1:8002"]) as proxy:
        httpx.get(f"{proxy.url}/healthz")
        proxy.access_log()   # who served what: [AccessEntry(method, path, status, upstream)]

The proxy settings are the ones a deployment needs too (deploy/nginx.conf): long polls and
server-sent events pass unbuffered and are held longer than the web chat's longest wait.
``make test`` installs nginx (scripts/install-nginx.sh).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Self

from tests.support.servers import free_port

INSTALL_HINT = "run scripts/install-nginx.sh (or make test, which installs it)"
SYSTEM_BIN_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Above the web chat's longest long poll (`wait` is at most 60 s) and the desk's event stream
# keep-alives, so nginx never cuts a legitimate wait short with a 504.
READ_TIMEOUT_SECONDS = 90
# Runs beside nginx: stdin closing without the word "stopped" means the test process died
# without stop(), and nginx (in its own session) would otherwise serve on forever.
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
# One line per request; fields without spaces, so a split() reads them back.
_LOG_FORMAT = "$msec $request_method $uri $status $upstream_addr"


@dataclass(frozen=True, slots=True)
class AccessEntry:
    at: float  # seconds since the epoch, when nginx finished the request
    method: str
    path: str  # without the query string
    status: int
    upstream: str  # "127.0.0.1:PORT" of the replica that answered ("-": none; "a, b": retried)


def find_nginx() -> str | None:
    """``nginx`` on PATH, or where Debian puts it (a non-root PATH often lacks /usr/sbin)."""
    found = shutil.which("nginx")
    if found is not None:
        return found
    for folder in SYSTEM_BIN_DIRS:
        candidate = Path(folder) / "nginx"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def nginx_config(root: Path, port: int, upstreams: Sequence[str]) -> str:
    """The whole nginx.conf: everything nginx writes stays under ``root``."""
    servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=2s;"
                        for address in upstreams)
    # As root the workers run as nobody: say so, rather than rely on the compiled-in default.
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{
    worker_connections 512;
}}
http {{
    log_format replicas '{_LOG_FORMAT}';
    access_log {root}/access.log replicas;
    client_body_temp_path {root}/temp/client;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;

    upstream abonent {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://abonent;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # long polls (web chat updates) and server-sent events (the desk): pass each byte
            # on at once, and wait longer than the longest poll
            proxy_buffering off;
            proxy_read_timeout {READ_TIMEOUT_SECONDS}s;
            proxy_send_timeout {READ_TIMEOUT_SECONDS}s;
            # a replica that refuses the connection is skipped; a request it already received
            # is never sent again (POST is not idempotent), nginx's default
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


class NginxProxy:
    """``nginx -p ROOT -c nginx.conf -g 'daemon off;'`` in front of ``upstreams`` (host:port)."""

    host = "127.0.0.1"

    def __init__(self, upstreams: Sequence[str], *, start_timeout: float = START_TIMEOUT) -> None:
        if not upstreams:
            raise ValueError("nginx needs at least one upstream")
        self.upstreams = list(upstreams)
        self._start_timeout = start_timeout
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----- lifecycle

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

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("this NginxProxy is already running")
        binary = find_nginx()
        if binary is None:
            raise RuntimeError(f"nginx is not installed: {INSTALL_HINT}")
        self.root = Path(tempfile.mkdtemp(prefix="abonent-nginx-"))
        try:
            # nginx's workers (nobody, when we are root) must reach the temp dirs
            self.root.chmod(0o755)
            (self.root / "temp").mkdir()
            for attempt in itertools.count(1):
                self.port = free_port()
                (self.root / "nginx.conf").write_text(
                    nginx_config(self.root, self.port, self.upstreams), encoding="utf-8")
                self._spawn(binary)
                try:
                    self._wait_ready()
                    return
                except _PortTaken:
                    self._kill()
                    if attempt == 3:
                        raise RuntimeError("nginx found no free port in 3 tries") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop nginx (and its workers), then remove the temp dir. Idempotent."""
        self._kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _spawn(self, binary: str) -> None:
        assert self.root is not None
        if self._log is not None:
            self._log.close()
        self._log = (self.root / "stderr.log").open("ab")
        # `-e` names the error log before the config is read (else nginx tries the system one)
        self.process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", "nginx.conf", "-e", str(self.root / "error.log"),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True,
        )
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.process.pid), str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.error_text()
                if "Address already in use" in text:
                    raise _PortTaken
                raise RuntimeError(
                    f"nginx exited with {self.process.returncode} while starting:\n{text}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"nginx did not listen within {self._start_timeout:.0f} s:\n"
                           f"{self.error_text()}")

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # SIGTERM is nginx's fast shutdown: the master stops its workers and exits
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            assert watchdog.stdin is not None
            try:
                watchdog.stdin.write(b"stopped")
                watchdog.stdin.close()
            except BrokenPipeError:
                pass
            watchdog.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    # ----- what happened

    def error_text(self) -> str:
        if self.root is None:
            return ""
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)[-4000:]

    def access_log(self) -> list[AccessEntry]:
        """Every request nginx finished so far (it writes each line when the request ends)."""
        if self.root is None:
            return []
        path = self.root / "access.log"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            at, method, uri, status, upstream = line.split(" ", 4)
            entries.append(AccessEntry(float(at), method, uri, int(status), upstream))
        return entries


class _PortTaken(Exception):
    """Someone took the free port between our probe and nginx's bind."""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
