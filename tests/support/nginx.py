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

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.daemon import LocalDaemon, find_binary

INSTALL_HINT = "run scripts/install-nginx.sh (or make test, which installs it)"
START_TIMEOUT = 10.0
# Above the web chat's longest long poll (`wait` is at most 60 s) and the desk's event stream
# keep-alives, so nginx never cuts a legitimate wait short with a 504.
READ_TIMEOUT_SECONDS = 90
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
    return find_binary("nginx")


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


class NginxProxy(LocalDaemon):
    """``nginx -p ROOT -c nginx.conf -g 'daemon off;'`` in front of ``upstreams`` (host:port)."""

    name = "nginx"
    install_hint = INSTALL_HINT
    temp_prefix = "abonent-nginx-"
    log_name = "stderr.log"

    def __init__(self, upstreams: Sequence[str], *, start_timeout: float = START_TIMEOUT) -> None:
        if not upstreams:
            raise ValueError("nginx needs at least one upstream")
        super().__init__(start_timeout=start_timeout)
        self.upstreams = list(upstreams)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----- LocalDaemon's hooks

    def _locate(self) -> str | None:
        return find_nginx()

    def _prepare(self) -> None:
        assert self.root is not None
        # nginx's workers (nobody, when we are root) must reach the temp dirs
        self.root.chmod(0o755)
        (self.root / "temp").mkdir()

    def _launch(self, binary: str) -> None:
        assert self.root is not None
        (self.root / "nginx.conf").write_text(
            nginx_config(self.root, self.port, self.upstreams), encoding="utf-8")
        # `-e` names the error log before the config is read (else nginx tries the system one)
        self._spawn_daemon(
            [binary, "-p", str(self.root), "-c", "nginx.conf", "-e", str(self.root / "error.log"),
             "-g", "daemon off;"])
        self._await_ready(self._connect, retry_on=(OSError,), not_ready="did not listen")

    def _connect(self) -> None:
        # A connection alone can reach whoever took the port first; nginx writes its pid file
        # only after it has bound its listen sockets.
        assert self.root is not None
        if not (self.root / "nginx.pid").exists():
            raise FileNotFoundError("nginx has not bound its port yet")
        with socket.create_connection((self.host, self.port), timeout=1.0):
            pass

    def _failure_text(self) -> str:
        return self.error_text()

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
