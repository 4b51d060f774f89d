"""The benchmark's results: one record per measured run, the machine it ran on, and the Markdown
report (Abonent and Rasa side by side with their ratios) written to bench-results/."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.stats import ratio

MB = 1024 * 1024
BUSY_LOAD = 0.5  # a load average above this share of the cores before the run: said in the report
GENERATOR = "load-generator"
STACKS = ("abonent", "rasa")


@dataclass(frozen=True)
class Machine:
    host: str
    cpu: str
    cores: int
    ram_bytes: int
    python: str
    rasa: str
    date: str  # ISO 8601, UTC
    load_average: tuple[float, float, float]  # before the benchmark started
    commit: str

    def describe(self) -> str:
        load = " ".join(f"{x:.2f}" for x in self.load_average)
        return (
            f"{self.host}: {self.cpu}, {self.cores} cores, {self.ram_bytes / 1024**3:.0f} GB RAM; "
            f"Python {self.python} (app), Rasa {self.rasa}; {self.date}; "
            f"load average before the run {load}; commit {self.commit}"
        )


@dataclass(frozen=True)
class RunRecord:
    """One stack under one load: ``load`` is ``closed`` (``clients``) or ``open`` (``rate``)."""

    database: str
    mix: str
    load: str
    clients: int
    rate: float
    stack: str
    messages: int
    errors: int
    empty: int
    seconds: float
    p50: float | None
    p95: float | None
    p99: float | None
    statuses: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # server -> CPU in the window
    max_rss: dict[str, list[int]] = field(default_factory=dict)  # server -> per-process bytes
    texts_exhausted: bool = False

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def label(self) -> str:
        if self.load == "open":
            return f"{self.rate:g} msg/s"
        return f"{self.clients} client{'' if self.clients == 1 else 's'}"

    def cpu_ms_per_message(self, server: str) -> float | None:
        if server not in self.cpu_seconds or self.messages == 0:
            return None
        return 1000 * self.cpu_seconds[server] / self.messages


@dataclass(frozen=True)
class Setup:
    warmup: float
    duration: float
    workers: dict[str, int]  # database -> ABONENT_WORKERS asked for
    app_processes: dict[str, int]  # database -> app processes seen under load
    skipped: list[str] = field(default_factory=list)  # one line per part not run, and why


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{1000 * value:.0f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _mb(values: Sequence[int]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0] / MB:.0f}"
    return f"{max(values) / MB:.0f} (×{len(values)}, Σ {sum(values) / MB:.0f})"


def _cpu(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def pairs(records: Sequence[RunRecord]) -> list[tuple[RunRecord | None, RunRecord | None]]:
    """(Abonent, Rasa) for each (database, mix, load), in the order they were first run."""
    keyed: dict[tuple[str, str, str, int, float], dict[str, RunRecord]] = {}
    for record in records:
        key = (record.database, record.mix, record.load, record.clients, record.rate)
        keyed.setdefault(key, {})[record.stack] = record
    return [(by_stack.get("abonent"), by_stack.get("rasa")) for by_stack in keyed.values()]


def _key(pair: tuple[RunRecord | None, RunRecord | None]) -> RunRecord:
    record = pair[0] or pair[1]
    assert record is not None
    return record


def render(machine: Machine, setup: Setup, records: Sequence[RunRecord]) -> str:
    lines = [
        "# Abonent and Rasa 3.6's full stack, same machine, same messages",
        "",
        f"Machine: {machine.describe()}.",
        "",
        "Abonent: `abonent run` on the web chat API (NLU cache on), its NLU on one Rasa server "
        "with Abonent's model; app processes per database: "
        + ", ".join(
            f"{db} {setup.workers[db]} asked (ABONENT_WORKERS), {setup.app_processes.get(db, 0)} "
            "running" for db in setup.workers
        )
        + ". Rasa: `rasa run` with Abonent's NLU config and training data, RulePolicy with one "
        "rule and one response per intent, the REST channel and an SQL tracker store on the same "
        "database. Every message comes from a new subscriber. Each load: "
        f"{setup.warmup:g} s warm-up, then {setup.duration:g} s measured. "
        "× = Abonent / Rasa (throughput: higher is better for Abonent; latency: lower is).",
        "",
    ]
    if machine.load_average[0] > BUSY_LOAD * max(machine.cores, 1):
        lines += [
            (f"**The machine was busy** when the run started (load average "
            f"{machine.load_average[0]:.2f} on {machine.cores} cores): other work competed for "
            "the CPU, so these figures are skewed. Run it again on a quiet machine."),
            "",
        ]
    lines += [f"- skipped: {line}" for line in setup.skipped]
    if setup.skipped:
        lines.append("")
    all_pairs = pairs(records)
    closed = [p for p in all_pairs if _key(p).load == "closed"]
    opened = [p for p in all_pairs if _key(p).load == "open"]
    if closed:
        lines += [
            "## Closed loop (each client waits for the answer, then sends the next)",
            "",
            ("| database | mix | load | Abonent msg/s | Rasa msg/s | × | Abonent p50 ms | "
            "Rasa p50 ms | Abonent p99 ms | Rasa p99 ms | p99 × |"),
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for ours, theirs in closed:
            key = _key((ours, theirs))
            lines.append(
                f"| {key.database} | {key.mix} | {key.label} "
                f"| {_rate(ours)} | {_rate(theirs)} "
                f"| {_x(ratio(_tp(ours), _tp(theirs)))} "
                f"| {_ms(_p(ours, 'p50'))} | {_ms(_p(theirs, 'p50'))} "
                f"| {_ms(_p(ours, 'p99'))} | {_ms(_p(theirs, 'p99'))} "
                f"| {_x(ratio(_p(ours, 'p99'), _p(theirs, 'p99')))} |"
            )
        lines.append("")
    if opened:
        lines += [
            "## Open loop (messages leave on schedule; latency counts from the scheduled moment)",
            "",
            ("| database | mix | load | Abonent msg/s | Rasa msg/s | Abonent p50 ms | Rasa p50 ms | "
            "Abonent p95 ms | Rasa p95 ms | Abonent p99 ms | Rasa p99 ms | p99 × |"),
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for ours, theirs in opened:
            key = _key((ours, theirs))
            lines.append(
                f"| {key.database} | {key.mix} | {key.label} | {_rate(ours)} | {_rate(theirs)} "
                f"| {_ms(_p(ours, 'p50'))} | {_ms(_p(theirs, 'p50'))} "
                f"| {_ms(_p(ours, 'p95'))} | {_ms(_p(theirs, 'p95'))} "
                f"| {_ms(_p(ours, 'p99'))} | {_ms(_p(theirs, 'p99'))} "
                f"| {_x(ratio(_p(ours, 'p99'), _p(theirs, 'p99')))} |"
            )
        lines.append("")
    if all_pairs:
        lines += [
            "## CPU and memory",
            "",
            ("CPU: user + system seconds of all the server's processes in the measured window, "
            "per answered message. RSS: the largest resident size seen during the load, MB "
            "(several processes: the largest, how many, and their sum)."),
            "",
            ("| database | mix | load | app CPU ms/msg | Abonent's Rasa CPU ms/msg | "
            "Rasa full stack CPU ms/msg | app RSS MB | Abonent's Rasa RSS MB | "
            "Rasa full stack RSS MB |"),
            "|---|---|---|--:|--:|--:|--:|--:|--:|",
        ]
        for ours, theirs in all_pairs:
            key = _key((ours, theirs))
            lines.append(
                f"| {key.database} | {key.mix} | {key.label} "
                f"| {_cpu(ours.cpu_ms_per_message('abonent-app') if ours else None)} "
                f"| {_cpu(ours.cpu_ms_per_message('abonent-nlu') if ours else None)} "
                f"| {_cpu(theirs.cpu_ms_per_message('rasa-full-stack') if theirs else None)} "
                f"| {_mb(ours.max_rss.get('abonent-app', []) if ours else [])} "
                f"| {_mb(ours.max_rss.get('abonent-nlu', []) if ours else [])} "
                f"| {_mb(theirs.max_rss.get('rasa-full-stack', []) if theirs else [])} |"
            )
        generator = [
            cost for r in records if (cost := r.cpu_ms_per_message(GENERATOR)) is not None
        ]
        if generator:
            lines.append(
                f"The load generator itself used {min(generator):.1f}–{max(generator):.1f} ms "
                "of CPU per message (same machine, its own process)."
            )
        lines.append("")
    lines += ["## Errors", ""]
    problems = [problem for record in records for problem in _problems(record)]
    lines += problems or ["None: every measured message was answered with 200 and a reply."]
    return "\n".join(lines) + "\n"


def _tp(record: RunRecord | None) -> float | None:
    return None if record is None else record.throughput


def _rate(record: RunRecord | None) -> str:
    return "–" if record is None else f"{record.throughput:.1f}"


def _p(record: RunRecord | None, name: str) -> float | None:
    if record is None:
        return None
    value = getattr(record, name)
    return None if value is None else float(value)


def _problems(record: RunRecord) -> list[str]:
    where = f"{record.stack}, {record.database}, {record.mix}, {record.load} {record.label}"
    found = []
    if record.errors:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(record.statuses.items()) if k != "200")
        found.append(f"- {where}: {record.errors} errors ({codes}) — this run is not clean")
    if record.empty:
        found.append(f"- {where}: {record.empty} answers (200) without any reply")
    if record.texts_exhausted:
        found.append(f"- {where}: the prepared texts ran out and repeated")
    return found


def write(
    out_dir: Path, stem: str, machine: Machine, setup: Setup, records: Sequence[RunRecord]
) -> list[Path]:
    """``<stem>.md`` and ``.json`` and the same as ``latest.*``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = render(machine, setup, records)
    data = json.dumps(
        {
            "machine": asdict(machine),
            "setup": asdict(setup),
            "runs": [asdict(r) | {"throughput": r.throughput} for r in records],
        },
        ensure_ascii=False,
        indent=2,
    )
    written = []
    for name in (stem, "latest"):
        for suffix, content in ((".md", text), (".json", data)):
            path = out_dir / f"{name}{suffix}"
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written
