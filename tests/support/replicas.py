"""Several real app processes on one PostgreSQL database, behind nginx: the scale-out set-up of
issue #13 as its test sees it (tests/deploy/).

- ``fresh_postgres`` — a new, empty database on TEST_DATABASE_URL's server (skipped without it,
  unless ABONENT_REQUIRE_POSTGRES=1, as in CI), migrated once by ``abonent db upgrade`` as its
  own step (the replicas run with ABONENT_AUTO_MIGRATE=false, as docker-compose.yml does).
- ``ReplicaBotApi`` — the fake Telegram Bot API with one base URL per replica
  (``{url}/via/{name}``), so a test sees which process called ``getUpdates``.
- ``Cluster`` — replicas ``a`` and ``b`` (``python -m bot.cli run``, each in its own process
  group, so SIGKILL takes the whole process) and nginx in front.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.storage import Database, Message
from handoff.auth import Accounts
from nlu.server import RasaServer
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support import channel_db
from tests.support.app import ExternalRasa
from tests.support.kill9 import app_environment
from tests.support.nginx import NginxProxy
from tests.support.postgres import postgres_database
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.telegram import WEBHOOK_SECRET

REPLICAS = ("a", "b")
# what uvicorn logs once it has bound its port, and when someone else had it
_SERVING = "Uvicorn running on"
_PORT_TAKEN = "address already in use"
ADMIN_PASSWORD = "admin-two-replicas-password"


# -- the database ----------------------------------------------------------------------------

@asynccontextmanager
async def fresh_postgres(admin_url: str) -> AsyncIterator[str]:
    """A new database on ``admin_url``'s server, dropped afterwards; skips when unreachable
    (fails instead under ABONENT_REQUIRE_POSTGRES=1)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(postgres_database(admin_url, "abonent_replicas"))
        except Exception as exc:
            if os.environ.get("ABONENT_REQUIRE_POSTGRES") == "1":
                raise
            pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
        yield url


def migrate(env: dict[str, str], log: Path) -> None:
    """``abonent db upgrade`` once, before any replica starts (docker-compose's `migrate`)."""
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        raise AssertionError(f"abonent db upgrade failed ({done.returncode}):\n"
                             f"{log.read_text(errors='replace')[-3000:]}")


async def create_agent(database_url: str, username: str) -> str:
    """A desk account made in the database directly; returns its password."""
    password = f"{username}-password-for-tests"
    db = Database(database_url)
    try:
        await Accounts(db, session_ttl=timedelta(hours=1)).create(
            username, password, role="agent", display_name=username.title())
    finally:
        await db.close()
    return password


# -- the fake Telegram, per replica ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReplicaCall:
    replica: str
    method: str
    started: float  # time.monotonic()
    ended: float


@dataclass(eq=False)
class ReplicaBotApi(FakeBotApi):
    """The fake Bot API, also at ``{url}/via/{replica}/bot{token}/{method}``: the same server
    and state, and a record of which replica made each call (``replica_calls``)."""

    _replica_calls: list[ReplicaCall] = field(default_factory=list, repr=False)

    def base_for(self, replica: str) -> str:
        return f"{self.url}/via/{replica}"

    def replica_calls(self, method: str | None = None) -> list[ReplicaCall]:
        with self._lock:
            return [c for c in self._replica_calls
                    if method is None or c.method.lower() == method.lower()]

    def pollers(self, since: float = 0.0) -> set[str]:
        """Replicas that started a ``getUpdates`` at or after ``since`` (monotonic)."""
        return {c.replica for c in self.replica_calls("getUpdates") if c.started >= since}

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._replica_calls.clear()

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_route("*", "/via/{replica}/bot{token}/{method}", self._handle_via)

    async def _handle_via(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            return await self._handle(request)
        finally:
            call = ReplicaCall(request.match_info["replica"], request.match_info["method"],
                               started, time.monotonic())
            with self._lock:
                self._replica_calls.append(call)


# -- the replicas ----------------------------------------------------------------------------

def replica_environment(
    database_url: str, rasa: RasaServer | ExternalRasa, *, telegram: dict[str, str] | None = None
) -> dict[str, str]:
    """One replica's environment: shared database and Rasa, migrations off (done once before),
    nginx trusted for X-Forwarded-For, an admin for the desk, and the Telegram settings given."""
    env = app_environment(database_url, rasa.url, rasa.token)
    env.update(
        ABONENT_AUTO_MIGRATE="false",
        ABONENT_TRUSTED_PROXIES="127.0.0.1",
        ABONENT_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ABONENT_LOG_LEVEL="INFO",
        **(telegram or {}),
    )
    return env


def telegram_settings(api: ReplicaBotApi, replica: str, *, webhook: bool) -> dict[str, str]:
    values = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base_for(replica)}
    if webhook:
        values |= {"TELEGRAM_WEBHOOK_URL": "https://bot.example.test/telegram/webhook",
                   "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return values


@dataclass
class Replica:
    name: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: AppProcess | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """How nginx's access log names this replica."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> AppProcess:
        self.starts += 1
        self.process = AppProcess(self.env, self.port,
                                  self.log_dir / f"replica-{self.name}-{self.starts}.log",
                                  cwd=self.log_dir)
        return self.process

    async def serve(self, timeout: float = 90.0) -> AppProcess:
        """Start, and wait until this replica's own process serves its port and is healthy.

        The free port may be taken by someone else before the app binds it (other test runs
        share this machine), and then ``/healthz`` there answers for a stranger: so wait for
        our process to say it listens, and start it on another port when the port was taken.
        """
        for _ in range(3):
            process = self.start()
            if await _listening(process, timeout):
                await process.wait_healthy(timeout)
                return process
            process.stop()
            self.port = free_port()
        raise AssertionError(f"replica {self.name} found no free port in 3 tries")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, the whole process group: no clean-up, locks held until PostgreSQL notices."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The end of this replica's latest log (read from the file: a killed one's is closed)."""
        if self.process is None or not self.process.log_path.exists():
            return ""
        text = self.process.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


async def _listening(process: AppProcess, timeout: float) -> bool:
    """True once the app logs that it listens; False when it exits because its port was taken."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        text = process.log_path.read_text(encoding="utf-8", errors="replace") \
            if process.log_path.exists() else ""
        if _SERVING in text:
            return True
        if process.process.poll() is not None:
            if _PORT_TAKEN in text:
                return False
            raise AssertionError(f"the app exited with {process.process.returncode}:\n"
                                 f"{process.log_tail()}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"the app did not listen within {timeout:.0f} s:\n{process.log_tail()}")


@dataclass
class Cluster:
    database_url: str
    replicas: dict[str, Replica]
    proxy: NginxProxy

    @property
    def url(self) -> str:
        return self.proxy.url

    def __getitem__(self, name: str) -> Replica:
        return self.replicas[name]

    def served_by(self, path_prefix: str) -> dict[str, int]:
        """Requests under ``path_prefix`` nginx passed to each replica (by name)."""
        names = {r.address: r.name for r in self.replicas.values()}
        counts = dict.fromkeys(self.replicas, 0)
        for entry in self.proxy.access_log():
            if entry.path.startswith(path_prefix) and entry.upstream in names:
                counts[names[entry.upstream]] += 1
        return counts

    def logs(self) -> str:
        return "\n".join(f"--- replica {r.name}:\n{r.log_tail()}" for r in self.replicas.values())


@asynccontextmanager
async def running_cluster(
    database_url: str,
    rasa: RasaServer | ExternalRasa,
    workdir: Path,
    *,
    telegram: dict[str, dict[str, str]] | None = None,
    names: Sequence[str] = REPLICAS,
) -> AsyncIterator[Cluster]:
    """Migrate ``database_url`` once, start a replica per name (``telegram[name]``: its Telegram
    settings) and nginx in front; stop them all on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(
        migrate, replica_environment(database_url, rasa), workdir / "migrate.log")
    replicas = {
        name: Replica(name, replica_environment(database_url, rasa,
                                                telegram=(telegram or {}).get(name)), workdir)
        for name in names
    }
    try:
        await asyncio.gather(*(replica.serve() for replica in replicas.values()))
        async with NginxProxy([r.address for r in replicas.values()]) as proxy:
            yield Cluster(database_url, replicas, proxy)
    finally:
        for replica in replicas.values():
            replica.stop()


# -- what the database holds -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Transcript:
    """One subscriber's stored messages, oldest first."""

    inbound: list[Message]
    outbound: list[Message]

    def out_of_order(self) -> list[tuple[int, int]]:
        """Replies that came before a reply to an earlier message: (reply id, its message id).

        Messages of a conversation are handled one at a time in the order they were stored, so
        the replies' ``reply_to_id`` never goes down."""
        found, highest = [], 0
        for row in self.outbound:
            if row.reply_to_id is None:
                continue
            if row.reply_to_id < highest:
                found.append((row.id, row.reply_to_id))
            highest = max(highest, row.reply_to_id)
        return found


async def transcripts(database_url: str, channel: str,
                      users: Iterable[str]) -> dict[str, Transcript]:
    db = Database(database_url)
    try:
        result = {}
        for user in users:
            rows = await channel_db.stored_messages(db, channel, user)
            result[user] = Transcript([m for m in rows if m.direction == "in"],
                                      [m for m in rows if m.direction == "out"])
        return result
    finally:
        await db.close()


async def all_delivered(database_url: str, channel: str, users: Iterable[str],
                        inbound_per_user: int) -> bool:
    """Each user has ``inbound_per_user`` messages stored, all answered, all replies sent."""
    db = Database(database_url)
    try:
        for user in users:
            stored = await channel_db.stored_messages(db, channel, user, "in")
            if len(stored) < inbound_per_user or not await channel_db.delivered(db, channel, user):
                return False
        return True
    finally:
        await db.close()
