"""`make bench`: the same subscriber message mix against Abonent and against Rasa 3.6's own full
stack, both started here, on SQLite and on PostgreSQL.

    python -m bench.run [--quick] [--duration 10] [--warmup 2] [--workers N]
                        [--databases sqlite,postgresql] [--postgres-url URL]

For each database: Abonent (fresh database, `abonent db upgrade`, `abonent run`; its NLU is one
Rasa server with Abonent's model), then Rasa's full stack (SQL tracker store on that database);
each under closed loops of 1, 8 and 32 clients and an open loop of 30 msg/s, with repeated and
all-unique texts. The table goes to stdout and to bench-results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx
import psutil

from bench import abonent_stack, rasa_stack
from bench.loadgen import ABONENT_PATH, RASA_PATH, RESULT_PREFIX, LoadResult, LoadSpec
from bench.mix import MIX_FILE, MixError, MixText, UniqueTexts, load_mix, repeated_texts
from bench.procs import BenchError, RssSampler, Supervised, cpu_seconds
from bench.report import GENERATOR, Machine, RunRecord, Setup, write
from bench.stats import summarise
from bot.config import Settings
from bot.runtime import train_model
from knowledge_base import load_knowledge_base
from nlu.server import free_port
from nlu.training import PROJECT_ROOT

BUILD_DIR = PROJECT_ROOT / "build" / "bench"
RASA_BUILD_DIR = PROJECT_ROOT / "build" / "bench-rasa"
RESULTS_DIR = PROJECT_ROOT / "bench-results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
# Texts prepared per closed-loop run: more than any server here answers in a run.
MAX_RATE = 1000.0
MIXES = ("repeated", "unique")


@dataclass(frozen=True)
class Load:
    kind: str  # "closed" or "open"
    clients: int = 0
    rate: float = 0.0

    @property
    def name(self) -> str:
        return f"closed-{self.clients}" if self.kind == "closed" else f"open-{self.rate:g}"


@dataclass(frozen=True)
class Plan:
    loads: tuple[Load, ...]
    warmup: float
    duration: float
    seed: int

    def text_count(self, load: Load) -> int:
        rate = MAX_RATE if load.kind == "closed" else load.rate
        return math.ceil(rate * (self.warmup + self.duration)) + 16


def echo(line: str) -> None:
    print(line, flush=True)


def machine_facts(rasa_version: str) -> Machine:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = "?"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if dirty:
            commit += " + uncommitted changes"
    load1, load5, load15 = os.getloadavg()
    return Machine(
        host=socket.gethostname(), cpu=cpu, cores=os.cpu_count() or 0,
        ram_bytes=psutil.virtual_memory().total, python=platform.python_version(),
        rasa=rasa_version, date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        load_average=(load1, load5, load15), commit=commit,
    )


class Bench:
    """Runs the plan against one stack at a time and collects a record per run."""

    def __init__(self, plan: Plan, mix: Sequence[MixText], run_dir: Path) -> None:
        self.plan = plan
        self.mix = list(mix)
        self.run_dir = run_dir
        self.records: list[RunRecord] = []

    def texts(self, mix_name: str, unique: UniqueTexts, load_index: int, load: Load) -> list[str]:
        count = self.plan.text_count(load)
        if mix_name == "repeated":
            return repeated_texts(self.mix, count, self.plan.seed + load_index)
        return unique.take(count)

    def run_stack(
        self, *, database: str, stack: str, url: str, measured: Sequence[Supervised],
        watched: Sequence[Supervised],
    ) -> None:
        """Every mix and load against one running stack. ``measured``: the servers whose CPU
        and memory are this stack's; ``watched``: servers that must stay up."""
        for mix_name in MIXES:
            # a new generator per stack with the same seed: both stacks get the same texts
            unique = UniqueTexts(self.mix, self.plan.seed)
            for index, load in enumerate(self.plan.loads):
                texts = self.texts(mix_name, unique, index, load)
                spec = LoadSpec(
                    target="abonent" if stack == "abonent" else "rasa", url=url,
                    texts_file=str(self.run_dir / "texts.json"),
                    id_prefix=f"b{secrets.token_hex(4)}-{database[:2]}-{mix_name[:3]}",
                    warmup=self.plan.warmup, duration=self.plan.duration,
                    clients=load.clients, rate=load.rate,
                )
                Path(spec.texts_file).write_text(json.dumps(texts, ensure_ascii=False))
                result, cpu, rss = measure(spec, measured, self.run_dir)
                for server in watched:
                    server.check_running()
                summary = summarise(result.latencies, result.errors, result.seconds)
                record = RunRecord(
                    database=database, mix=mix_name, load=load.kind, clients=load.clients,
                    rate=load.rate, stack=stack, messages=summary.messages,
                    errors=summary.errors, empty=result.empty, seconds=summary.seconds,
                    p50=summary.p50, p95=summary.p95, p99=summary.p99,
                    statuses=result.statuses, cpu_seconds=cpu, max_rss=rss,
                    texts_exhausted=result.texts_exhausted,
                )
                self.records.append(record)
                p99 = "–" if summary.p99 is None else f"{1000 * summary.p99:.0f} ms"
                errors = f", {summary.errors} ERRORS" if summary.errors else ""
                echo(
                    f"  {stack:8} {database:10} {mix_name:8} {record.label:>11}: "
                    f"{record.throughput:7.1f} msg/s, p99 {p99}{errors}"
                )
                time.sleep(1.0)  # let the last answers' background work settle


def measure(
    spec: LoadSpec, servers: Sequence[Supervised], run_dir: Path
) -> tuple[LoadResult, dict[str, float], dict[str, list[int]]]:
    """Run the load generator in its own process; CPU of ``servers`` between its MEASURE and
    DONE lines, their peak RSS over the whole run."""
    spec_file = run_dir / "load.json"
    spec_file.write_text(json.dumps(asdict(spec)))
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    snapshot = {s.name: s.processes() for s in servers}
    result: LoadResult | None = None
    with RssSampler(servers) as sampler:
        generator = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", str(spec_file)], cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert generator.stdout is not None
            for line in generator.stdout:
                if line.startswith("MEASURE"):
                    snapshot = {s.name: s.processes() for s in servers}
                    # the generator's own cost, to show it is not what limits the figures
                    snapshot[GENERATOR] = [psutil.Process(generator.pid)]
                    before = {name: cpu_seconds(p) for name, p in snapshot.items()}
                elif line.startswith("DONE"):
                    after = {name: cpu_seconds(p) for name, p in snapshot.items()}
                elif line.startswith(RESULT_PREFIX):
                    result = LoadResult(**json.loads(line[len(RESULT_PREFIX):]))
            generator.wait(30)
        finally:
            if generator.poll() is None:
                generator.kill()
                generator.wait()
    if result is None or not after:
        raise BenchError(f"the load generator failed (exit {generator.returncode})")
    cpu = {name: after[name] - before[name] for name in after}
    rss = {name: sorted(peaks.values(), reverse=True) for name, peaks in sampler.max_rss.items()}
    return result, cpu, rss


def prime(url: str, stack: str, mix: Sequence[MixText]) -> None:
    """Every text of the mix once before measuring: the first requests load models and open
    connections, and the app's NLU cache holds the whole mix, as it would after a minute of
    real traffic (the unique texts never are in it)."""
    with httpx.Client(timeout=60.0) as http:
        for n, item in enumerate(mix):
            sender = f"prime-{secrets.token_hex(4)}-{n}"
            if stack == "abonent":
                response = http.post(
                    f"{url}{ABONENT_PATH}", json={"user_id": sender, "text": item.text}
                )
            else:
                response = http.post(
                    f"{url}{RASA_PATH}", json={"sender": sender, "message": item.text}
                )
            if response.status_code != 200:
                raise BenchError(
                    f"{stack} answered {response.status_code} to a first message: "
                    f"{response.text[:300]}"
                )


@contextlib.contextmanager
def database_for(name: str, run_dir: Path, postgres_url: str) -> Iterator[str]:
    if name == "sqlite":
        with abonent_stack.sqlite_database(run_dir) as url:
            yield url
    else:
        with abonent_stack.postgres_database(postgres_url) as url:
            yield url


def bench_database(
    bench: Bench, database: str, *, workers: int, nlu: Supervised, nlu_url: str, token: str,
    full_model: Path, venv: Path, postgres_url: str, app_processes: dict[str, int],
) -> None:
    run_dir = bench.run_dir / database
    run_dir.mkdir(parents=True, exist_ok=True)
    with database_for(database, run_dir, postgres_url) as database_url:
        env = abonent_stack.app_environment(
            database_url, rasa_url=nlu_url, rasa_token=token, workers=workers
        )
        abonent_stack.upgrade_database(env, run_dir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        echo(f"Abonent on {database} ({workers} worker(s) asked), {url}")
        with abonent_stack.app_server(env, port=port, run_dir=run_dir) as app:
            app.wait_ready(abonent_stack.app_ready(url), timeout=120)
            prime(url, "abonent", bench.mix)
            app_processes[database] = len(app.processes())
            bench.run_stack(
                database=database, stack="abonent", url=url, measured=[app, nlu],
                watched=[app, nlu],
            )
        files = rasa_stack.write_run_files(run_dir, database_url)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        echo(f"Rasa full stack on {database}, {url} (starting takes about 40 s)...")
        server = rasa_stack.full_stack_server(
            full_model, files, venv=venv, port=port, run_dir=run_dir
        )
        with server:
            server.wait_ready(rasa_stack.full_stack_ready(url), timeout=300)
            prime(url, "rasa", bench.mix)
            bench.run_stack(
                database=database, stack="rasa", url=url, measured=[server], watched=[server],
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs for development (1 s warm-up, 3 s measured)")
    parser.add_argument("--duration", type=float, help="seconds measured per load (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per load (default 2)")
    parser.add_argument("--clients", default="1,8,32", help="closed-loop clients (default 1,8,32)")
    parser.add_argument("--rate", type=float, default=30.0,
                        help="open-loop messages per second (default 30; 0 = no open loop)")
    parser.add_argument("--workers", type=int,
                        help="ABONENT_WORKERS on PostgreSQL (default 2; SQLite always runs 1)")
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="sqlite, postgresql or both (default both)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server where the benchmark may create and drop databases "
             f"(BENCH_POSTGRES_URL, default {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--mix", type=Path, default=MIX_FILE, help="the message mix (YAML)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the text draws")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.duration = args.duration if args.duration is not None else (3.0 if args.quick else 10.0)
    try:
        args.client_counts = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients: comma-separated whole numbers, e.g. 1,8,32")
    args.database_names = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(args.database_names) <= {"sqlite", "postgresql"} or not args.database_names:
        parser.error("--databases: sqlite, postgresql or both")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.duration <= 0 or args.warmup < 0 or any(c < 1 for c in args.client_counts):
        parser.error("--duration must be positive, --warmup not negative, clients at least 1")
    return args


def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # the finally blocks stop every process we started

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _stop_on_sigterm()
    started = time.monotonic()
    try:
        mix = load_mix(args.mix)
    except MixError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    loads = [Load("closed", clients=c) for c in args.client_counts]
    if args.rate > 0:
        loads.append(Load("open", rate=args.rate))
    plan = Plan(tuple(loads), args.warmup, args.duration, args.seed)
    settings = Settings()
    skipped: list[str] = []
    databases = list(args.database_names)
    if "postgresql" in databases:
        import asyncio

        why = asyncio.run(abonent_stack.postgres_reachable(args.postgres_url))
        if why is not None:
            databases.remove("postgresql")
            line = f"PostgreSQL (--postgres-url / BENCH_POSTGRES_URL is unreachable: {why})"
            skipped.append(line)
            echo(f"Skipping {line}")
    if not databases:
        print("bench: no database left to run on", file=sys.stderr)
        return 1
    workers = {db: 1 if db == "sqlite" else (args.workers or 2) for db in databases}
    nlu_model = train_model(settings)
    kb = load_knowledge_base(settings.kb_dir)
    training = time.monotonic()
    full_model = rasa_stack.train_full_stack(
        kb, build_dir=RASA_BUILD_DIR, venv=settings.rasa_venv, echo=echo
    )
    training = time.monotonic() - training
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    bench = Bench(plan, mix, BUILD_DIR)
    app_processes: dict[str, int] = {}
    token = secrets.token_hex(24)
    nlu_port = free_port()
    nlu_url = f"http://127.0.0.1:{nlu_port}"
    echo(f"Starting Abonent's NLU server (Rasa, {nlu_model.name}) on {nlu_url}...")
    try:
        with abonent_stack.nlu_server(
            nlu_model, venv=settings.rasa_venv, port=nlu_port, token=token, run_dir=BUILD_DIR
        ) as nlu:
            nlu.wait_ready(abonent_stack.nlu_ready(nlu_url, token), timeout=300)
            rasa_version = httpx.get(f"{nlu_url}/version", timeout=10).json().get("version", "?")
            machine = machine_facts(str(rasa_version))
            echo(f"Machine: {machine.describe()}")
            for database in databases:
                bench_database(
                    bench, database, workers=workers[database], nlu=nlu, nlu_url=nlu_url,
                    token=token, full_model=full_model, venv=settings.rasa_venv,
                    postgres_url=args.postgres_url, app_processes=app_processes,
                )
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    setup = Setup(args.warmup, args.duration, workers, app_processes, skipped)
    stem = f"{datetime.now(UTC):%Y-%m-%d-%H%M}-{machine.host}"
    paths = write(args.out, stem, machine, setup, bench.records)
    echo("")
    echo(paths[0].read_text(encoding="utf-8"))
    echo(f"Written: {', '.join(str(p) for p in paths[:2])} "
         f"(and latest.md/.json); the whole run took {time.monotonic() - started:.0f} s "
         f"(Rasa full-stack training {training:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
