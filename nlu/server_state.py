"""What a local Rasa server leaves on disk, so that the next start can find one left behind.

``build/rasa-PORT.json`` (mode 0600) holds the server's pid, port, model file, the pid of the
process that started it and a SHA-256 of its token (never the token). A pid alone is not proof:
pids are reused, so before touching a process we check ``/proc/PID/cmdline`` says it is our
launcher on that port. Without ``/proc`` (not Linux) nothing is ever stopped by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

LAUNCHER_MODULE = "rasa_launcher"


@dataclass(frozen=True)
class RasaState:
    pid: int
    owner: int  # the process that started it; while it lives, the server is not a leftover
    port: int
    model: str  # the model file's name, as GET /status reports it
    token_sha256: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_state(path: Path, state: RasaState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out)
    os.replace(temporary, path)


def read_state(path: Path) -> RasaState | None:
    try:
        return RasaState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _proc(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child nobody has reaped yet)."""
    stat = _proc(pid, "stat")
    if stat is None:
        return False
    # "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ")"
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def parent_of(pid: int) -> int | None:
    stat = _proc(pid, "stat")
    return int(stat.rsplit(b")", 1)[1].split()[1]) if stat else None


def is_our_rasa(pid: int, port: int) -> bool:
    """``pid`` is a running ``python -m rasa_launcher ... -p PORT`` (ours, on that port)."""
    cmdline = _proc(pid, "cmdline")
    if not cmdline or not is_running(pid):
        return False
    args = cmdline.decode(errors="replace").split("\0")
    on_port = any(a == "-p" and b == str(port) for a, b in itertools.pairwise(args))
    return LAUNCHER_MODULE in args and on_port


def is_orphan(state: RasaState) -> bool:
    """The process that started the server is gone (the server was re-parented)."""
    return parent_of(state.pid) != state.owner


async def terminate(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds; waits until gone."""
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        for _ in range(int(wait / 0.1)):
            if not is_running(pid):
                return
            await asyncio.sleep(0.1)
