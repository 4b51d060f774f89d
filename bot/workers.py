"""``ABONENT_WORKERS=N``: N app processes serving one host:port, over PostgreSQL.

The parent binds the listening socket once and hands it to N spawned workers (each a whole app:
its own services, its own uvicorn server on the shared socket; the kernel spreads connections).
The parent runs no app: it migrates the schema once, starts the workers, replaces one that dies,
and on a stop signal stops them all (each shuts down gracefully; a straggler is killed) before
its caller stops the local Rasa they share. Everything the workers share lives in PostgreSQL
(bot/notify.py, bot/leader.py, the outbox, locks and limits), so SQLite cannot take part.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Any

from bot.config import Settings

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0  # per worker: uvicorn's graceful shutdown plus the services' stop
EARLY_DEATH_SECONDS = 15.0  # a worker that dies this soon failed to start: do not loop
CHECK_SECONDS = 0.2


class WorkersError(Exception):
    """Settings that cannot run several workers; the message says what to change."""


def check_workers(settings: Settings) -> None:
    if settings.workers > 1 and settings.database_url.get_secret_value().startswith("sqlite"):
        raise WorkersError(
            f"ABONENT_WORKERS={settings.workers} needs PostgreSQL: SQLite takes one writing "
            "process, so the app runs as one process on it. Set ABONENT_WORKERS=1, or point "
            "DATABASE_URL at PostgreSQL (see README, 'Scaling out')."
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket says IPPROTO_TCP; without it every answer waited out a 40 ms delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WorkersError(f"cannot listen on {host}:{port} ({exc.strerror}): another process "
                           "uses that port? Set ABONENT_PORT or --port") from None
    sock.listen(2048)
    return sock


async def serve_workers(settings: Settings, sock: socket.socket) -> int:
    """Run ``settings.workers`` workers on ``sock`` until cancelled (a stop signal: then every
    worker is stopped before this returns) or until a worker fails at start (returns 1)."""
    count = settings.workers
    # one migration, here; workers racing to migrate the same schema would collide
    if settings.auto_migrate:
        from bot.storage import Database

        db = Database(settings.database_url.get_secret_value())
        try:
            await db.upgrade()
        finally:
            await db.close()
    child = settings.model_copy(update={"auto_migrate": False, "workers": 1})
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no loop, no threads

    def spawn(index: int) -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(child, sock, index),
                                  name=f"abonent-worker-{index}")
        process.start()
        return process, time.monotonic()

    workers = [spawn(i) for i in range(count)]
    log.info("started %d workers: pids %s", count,
             ", ".join(str(p.pid) for p, _ in workers))
    try:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            for index, (process, started) in enumerate(workers):
                if process.is_alive():
                    continue
                if time.monotonic() - started < EARLY_DEATH_SECONDS:
                    log.error("worker %d (pid %s) exited with %s during start-up; stopping "
                              "(its log above says why)", index, process.pid, process.exitcode)
                    return 1
                log.warning("worker %d (pid %s) exited with %s; starting another", index,
                            process.pid, process.exitcode)
                workers[index] = spawn(index)
    finally:
        await _stop_all([p for p, _ in workers])


async def _stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()  # SIGTERM: the worker shuts down gracefully
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        await asyncio.sleep(CHECK_SECONDS)
    for process in processes:
        if process.is_alive():
            log.warning("worker pid %s did not stop in %.0f s; killing it", process.pid,
                        STOP_GRACE_SECONDS)
            process.kill()
        process.join(5)


def _worker(settings: Settings, sock: socket.socket, index: int) -> None:
    """A worker's main: the app on the inherited socket, stopped by SIGTERM/SIGINT."""
    _die_with_parent()
    logging.basicConfig(level=settings.log_level,
                        format=f"%(asctime)s %(levelname)s [worker {index}] %(name)s: %(message)s")
    import uvicorn

    from bot import shutdown
    from bot.app import create_app

    async def main(stop: shutdown.GracefulStop) -> None:
        app = create_app(settings)
        config = uvicorn.Config(
            app, log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=shutdown.GRACE_SECONDS,
        )
        server = shutdown.uvicorn_server(config)
        with stop.serving(server):
            await server.serve(sockets=[sock])

    sys.exit(shutdown.run(main))


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies, even by SIGKILL, so no orphan keeps
    serving the port (best effort elsewhere)."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        libc: Any = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
