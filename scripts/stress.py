"""Stress run: the kill -9 scenario many times on SQLite and PostgreSQL, then the big fuzz.

    .venv/bin/python scripts/stress.py [--sqlite N] [--postgres N] [--fuzz-examples N]
                                       [--fuzz-backends sqlite,postgres] [--seed S]

Each kill -9 iteration starts the real app on a fresh database (a SQLite file, or a new
PostgreSQL database created and dropped here), runs 10 web chat subscribers × 7 messages,
SIGKILLs the app mid-run, restarts it, retries everything with the same message ids and checks
nothing was lost or doubled (tests/support/kill9.py). The fuzz sends ≥ N generated requests to
every public endpoint (tests/support/fuzz.py), some web chat ones aimed at the sessions it
opened, with and without their token. PostgreSQL comes from TEST_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test) and is skipped, with a note, when unreachable.
Rasa: ABONENT_TEST_RASA_URL/_TOKEN when set, else a local server with the trained model.

Prints a line per iteration and a table at the end; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # the tests package holds the scenarios

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import Settings
from bot.runtime import train_model
from bot.storage import normalise_url
from nlu.server import RasaServer
from tests.support.fuzz import FuzzReport, fuzz_app
from tests.support.kill9 import Kill9Result, run_kill9
from tests.support.postgres import postgres_database

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Rasa:
    url: str
    token: str


@contextlib.asynccontextmanager
async def rasa() -> AsyncIterator[Rasa]:
    external = os.environ.get("ABONENT_TEST_RASA_URL")
    if external:
        yield Rasa(external.rstrip("/"), os.environ.get("ABONENT_TEST_RASA_TOKEN", ""))
        return
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    model = train_model(settings)
    print("starting a local Rasa server (about 40 s)...", flush=True)
    async with RasaServer(model, venv=settings.rasa_venv, token=secrets.token_hex(16)) as server:
        yield Rasa(server.url, server.token)


async def postgres_reachable(admin_url: str) -> str | None:
    """None when reachable, else why not."""
    engine = create_async_engine(normalise_url(admin_url))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL", said aloud
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()
    return None


@contextlib.asynccontextmanager
async def fresh_database(backend: str, workdir: Path, admin_url: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'abonent.db'}"
        return
    async with postgres_database(admin_url, "abonent_kill9") as url:
        yield url


async def kill9_rounds(
    backend: str, rounds: int, server: Rasa, root: Path, admin_url: str, rng: random.Random
) -> list[Kill9Result]:
    results = []
    for n in range(1, rounds + 1):
        workdir = root / f"kill9-{backend}-{n}"
        workdir.mkdir(parents=True)
        try:
            async with fresh_database(backend, workdir, admin_url) as url:
                result = await run_kill9(
                    database_url=url, rasa_url=server.url, rasa_token=server.token,
                    workdir=workdir, backend=backend, seed=rng.randrange(2**32),
                )
        except Exception as exc:  # noqa: BLE001 - one broken round must not hide the others
            result = Kill9Result(backend=backend, messages=0)
            result.problems.append(f"{type(exc).__name__}: {exc}")
        results.append(result)
        verdict = "ok" if result.ok else "FAILED: " + "; ".join(result.problems[:5])
        print(
            f"kill9 {backend} {n}/{rounds}: {result.answered}/{result.messages} answered, "
            f"killed after {result.killed_after} answers "
            f"({result.unanswered_at_kill} stored unanswered), lost {result.lost}, "
            f"doubled {result.doubled}, re-sent {result.resent_answered} "
            f"(mismatched {result.mismatched}), {result.retried_requests} retried requests, "
            f"{result.seconds:.1f} s: {verdict}",
            flush=True,
        )
    return results


async def fuzz_round(
    backend: str, examples: int, server: Rasa, root: Path, admin_url: str, seed: int
) -> tuple[FuzzReport, float]:
    workdir = root / f"fuzz-{backend}"
    workdir.mkdir(parents=True)
    started = time.monotonic()
    print(f"fuzz {backend}: {examples} examples per endpoint, seed {seed}", flush=True)
    async with fresh_database(backend, workdir, admin_url) as url:
        report = await fuzz_app(
            database_url=url, rasa_url=server.url, rasa_token=server.token, workdir=workdir,
            examples=examples, seed=seed, progress=True,
        )
    seconds = time.monotonic() - started
    verdict = "ok" if not report.problems else f"FAILED ({len(report.problems)} findings)"
    print(f"fuzz {backend}: {sum(report.calls.values())} requests, {seconds:.0f} s: {verdict}",
          flush=True)
    for problem in report.problems[:30]:
        print(f"  {problem}", flush=True)
    return report, seconds


def print_table(
    kill9: dict[str, list[Kill9Result]], fuzz: dict[str, tuple[FuzzReport, float]]
) -> None:
    print("\nkill -9 under load (10 subscribers × 7 messages, SIGKILL mid-run, restart, retry)")
    print(f"{'database':<10} {'iterations':>10} {'failed':>6} {'messages':>8} {'lost':>5} "
          f"{'doubled':>7} {'restarts':>8} {'unanswered at kill':>18} {'re-sent':>7} {'time s':>7}")
    for backend, results in kill9.items():
        print(
            f"{backend:<10} {len(results):>10} {sum(not r.ok for r in results):>6} "
            f"{sum(r.messages for r in results):>8} {sum(r.lost for r in results):>5} "
            f"{sum(r.doubled for r in results):>7} {sum(r.restarts for r in results):>8} "
            f"{sum(sum(r.unanswered_at_kill) for r in results):>18} "
            f"{sum(r.resent_answered for r in results):>7} "
            f"{sum(r.seconds for r in results):>7.0f}"
        )
    if not fuzz:
        return
    print("\nfuzzing from the OpenAPI schema (anonymous, then the desk logged in)")
    print(f"{'database':<10} {'endpoints':>9} {'requests':>8} {'min/endpoint':>12} "
          f"{'5xx':>4} {'no answer':>9} {'stored when rejected':>20} "
          f"{'web chat with/without token':>27} {'200 without token':>17} {'time s':>7}")
    for backend, (report, seconds) in fuzz.items():
        print(
            f"{backend:<10} {len(report.calls):>9} {sum(report.calls.values()):>8} "
            f"{min(report.calls.values(), default=0):>12} {len(report.server_errors):>4} "
            f"{len(report.no_answer):>9} "
            f"{len(report.stored_from_rejected) + len(report.storage_problems):>20} "
            f"{_aimed(report.with_token) + '/' + _aimed(report.without_token):>27} "
            f"{len(report.session_leaks):>17} {seconds:>7.0f}"
        )


def _aimed(statuses: dict[str, Counter[int]]) -> str:
    """Web chat requests aimed at a known session (see tests/support/fuzz.py)."""
    return str(sum(sum(counter.values()) for counter in statuses.values()))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=int, default=10, help="kill -9 rounds on SQLite")
    parser.add_argument("--postgres", type=int, default=10, help="kill -9 rounds on PostgreSQL")
    parser.add_argument("--fuzz-examples", type=int, default=1000,
                        help="generated requests per endpoint (0: no fuzzing)")
    parser.add_argument("--fuzz-backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run's random choices")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    print(f"stress run, seed {seed}", flush=True)

    admin_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    backends = {"sqlite": args.sqlite, "postgres": args.postgres}
    fuzz_backends = [b for b in args.fuzz_backends.split(",") if b] if args.fuzz_examples else []
    if args.postgres or "postgres" in fuzz_backends:
        why = await postgres_reachable(admin_url)
        if why:
            print(f"PostgreSQL is unreachable, skipping it: {why}", flush=True)
            backends["postgres"] = 0
            fuzz_backends = [b for b in fuzz_backends if b != "postgres"]

    kill9: dict[str, list[Kill9Result]] = {}
    fuzz: dict[str, tuple[FuzzReport, float]] = {}
    with tempfile.TemporaryDirectory(prefix="abonent-stress-") as tmp:
        root = Path(tmp)
        async with rasa() as server:
            for backend, rounds in backends.items():
                if rounds:
                    kill9[backend] = await kill9_rounds(
                        backend, rounds, server, root, admin_url, rng
                    )
            for backend in fuzz_backends:
                fuzz[backend] = await fuzz_round(
                    backend, args.fuzz_examples, server, root, admin_url, rng.randrange(2**32)
                )
    print_table(kill9, fuzz)
    failed = any(not r.ok for results in kill9.values() for r in results) or any(
        report.problems for report, _ in fuzz.values()
    )
    print("\nFAILED" if failed else "\nall passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
