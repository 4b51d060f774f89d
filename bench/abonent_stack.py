"""Abonent as the benchmark runs it: a fresh database (SQLite file or a new PostgreSQL database),
`abonent db upgrade`, an NLU-only Rasa server with Abonent's model, and `abonent run` with
ABONENT_WORKERS processes, the web chat's per-client limits off (one client sends everything).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bench.procs import BenchError, Supervised
from bot.storage import normalise_url
from nlu.rasa_launcher import PARENT_VARIABLE, TOKEN_VARIABLE
from nlu.server_state import LAUNCHER_MODULE
from nlu.training import PROJECT_ROOT, rasa_environment, rasa_python

ABONENT = PROJECT_ROOT / ".venv" / "bin" / "abonent"
# One load generator on one address sends everything: the limits meant for one browser would
# refuse the benchmark itself (429), and a cap on open handoffs per address would turn every
# "позовите оператора" after the third into a different answer.
BENCH_SETTINGS = {
    "WEBCHAT_RATE_PER_IP": "0",
    "WEBCHAT_RATE_PER_USER": "0",
    "WEBCHAT_MAX_OPEN_HANDOFFS_PER_IP": "0",
    "ABONENT_AUTO_MIGRATE": "false",  # `abonent db upgrade` ran once before
}


def nlu_server(model: Path, *, venv: Path, port: int, token: str, run_dir: Path) -> Supervised:
    """Abonent's NLU-only Rasa (`rasa run --enable-api`), the token kept off the command line."""
    env = rasa_environment({TOKEN_VARIABLE: token, PARENT_VARIABLE: str(os.getpid())})
    return Supervised(
        "abonent-nlu",
        [
            str(rasa_python(venv)), "-m", LAUNCHER_MODULE, "run", "--enable-api",
            "-m", str(model), "-i", "127.0.0.1", "-p", str(port),
        ],
        env=env, log_file=run_dir / "abonent-nlu.log", cwd=PROJECT_ROOT,
    )


def nlu_ready(url: str, token: str) -> Callable[[httpx.Client], bool]:
    def probe(http: httpx.Client) -> bool:
        return http.get(f"{url}/status", params={"token": token}).status_code == 200

    return probe


def app_environment(
    database_url: str, *, rasa_url: str, rasa_token: str, workers: int
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENCH_SETTINGS)
    env.update(
        {
            "DATABASE_URL": database_url,
            "RASA_URL": rasa_url,
            "RASA_TOKEN": rasa_token,
            "ABONENT_WORKERS": str(workers),
        }
    )
    return env


def upgrade_database(env: Mapping[str, str], run_dir: Path) -> None:
    log_file = run_dir / "db-upgrade.log"
    with log_file.open("wb") as log:
        result = subprocess.run(
            [str(ABONENT), "db", "upgrade"], env=dict(env), cwd=run_dir, stdout=log,
            stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0:
        raise BenchError(f"`abonent db upgrade` failed (exit {result.returncode}); see {log_file}")


def app_server(env: Mapping[str, str], *, port: int, run_dir: Path) -> Supervised:
    # cwd is the run directory, so a developer's .env in the project does not change the figures
    return Supervised(
        "abonent-app", [str(ABONENT), "run", "--port", str(port)], env=env,
        log_file=run_dir / "abonent-app.log", cwd=run_dir,
    )


def app_ready(url: str) -> Callable[[httpx.Client], bool]:
    def probe(http: httpx.Client) -> bool:
        return http.get(f"{url}/readyz").status_code == 200

    return probe


@contextmanager
def sqlite_database(run_dir: Path) -> Iterator[str]:
    path = run_dir / "bench.db"
    for leftover in run_dir.glob("bench.db*"):
        leftover.unlink()
    yield f"sqlite+aiosqlite:///{path}"


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_async_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def postgres_reachable(admin_url: str) -> str | None:
    """None when the server answers, else why not (one line)."""
    try:
        await asyncio.wait_for(_admin(admin_url, "SELECT 1"), 10)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on ``admin_url``'s server, dropped afterwards (even while a killed
    app's connections linger)."""
    name = f"abonent_bench_{secrets.token_hex(6)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
