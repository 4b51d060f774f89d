"""Percentiles, ratios and the report's rows, on known input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.report import Machine, RunRecord, Setup, pairs, render, write
from bench.stats import percentile, ratio, summarise


def test_percentiles_are_nearest_rank_values_that_were_observed() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([0.25, 0.5, 0.75], 50) == 0.5
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_or_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_summary_throughput_and_ratio() -> None:
    summary = summarise([0.1] * 30 + [1.0] * 10, errors=2, seconds=4.0)
    assert summary.messages == 40
    assert summary.throughput == 10.0
    assert (summary.p50, summary.p99) == (0.1, 1.0)
    assert summarise([], errors=3, seconds=2.0).p99 is None
    assert ratio(200.0, 50.0) == 4.0
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 1.0) is None


def record(stack: str, messages: int, p99: float, **extra: object) -> RunRecord:
    fields: dict[str, object] = {
        "database": "postgresql", "mix": "repeated", "load": "closed", "clients": 8, "rate": 0.0,
        "stack": stack, "messages": messages, "errors": 0, "empty": 0, "seconds": 10.0,
        "p50": p99 / 2, "p95": p99, "p99": p99,
    }
    fields.update(extra)
    return RunRecord(**fields)  # type: ignore[arg-type]


MACHINE = Machine(
    host="box", cpu="Some CPU", cores=2, ram_bytes=24 * 1024**3, python="3.11.7",
    rasa="3.6.21", date="2025-01-01 00:00 UTC", load_average=(0.1, 0.2, 0.3), commit="abc1234",
)
SETUP = Setup(warmup=2, duration=10, workers={"postgresql": 2}, app_processes={"postgresql": 3})


def test_the_report_puts_both_stacks_on_one_row_with_their_ratio() -> None:
    ours = record(
        "abonent", 2000, 0.05,
        cpu_seconds={"abonent-app": 6.0, "abonent-nlu": 1.0},
        max_rss={"abonent-app": [200 * 1024**2, 150 * 1024**2, 40 * 1024**2]},
    )
    theirs = record(
        "rasa", 500, 0.2, cpu_seconds={"rasa-full-stack": 8.0},
        max_rss={"rasa-full-stack": [800 * 1024**2]},
    )
    assert pairs([ours, theirs]) == [(ours, theirs)]
    text = render(MACHINE, SETUP, [ours, theirs])
    assert "Some CPU, 2 cores, 24 GB RAM" in text
    assert "| postgresql | repeated | 8 clients | 200.0 | 50.0 | 4.00× | 25 | 100 | 50 | 200 | 0.25× |" in text
    # CPU per message: 6 s / 2000 = 3 ms (app), 0.5 ms (its Rasa), 8 s / 500 = 16 ms (Rasa)
    assert "| 3.0 | 0.5 | 16.0 | 200 (×3, Σ 390) | – | 800 |" in text
    assert "None: every measured message" in text


def test_a_run_with_errors_says_so() -> None:
    bad = record("abonent", 100, 0.1, errors=5, statuses={"200": 100, "503": 5})
    text = render(MACHINE, SETUP, [bad])
    assert "abonent, postgresql, repeated, closed 8 clients: 5 errors (503: 5)" in text
    assert "not clean" in text


def test_results_are_written_dated_and_as_latest(tmp_path: Path) -> None:
    paths = write(tmp_path, "2025-01-01-0000-box", MACHINE, SETUP, [record("rasa", 10, 0.1)])
    assert {p.name for p in paths} == {
        "2025-01-01-0000-box.md", "2025-01-01-0000-box.json", "latest.md", "latest.json",
    }
    assert (tmp_path / "latest.md").read_text() == (tmp_path / "2025-01-01-0000-box.md").read_text()


def test_a_busy_machine_is_said_to_skew_the_figures() -> None:
    quiet = render(MACHINE, SETUP, [record("rasa", 10, 0.1)])
    assert "machine was busy" not in quiet
    busy = dataclasses.replace(MACHINE, load_average=(3.5, 3.0, 2.0))
    assert "**The machine was busy** when the run started (load average 3.50 on 2 cores)" in render(
        busy, SETUP, [record("rasa", 10, 0.1)]
    )


def test_the_load_generators_own_cpu_is_shown() -> None:
    ours = record("abonent", 1000, 0.1, cpu_seconds={"abonent-app": 5.0, "load-generator": 1.5})
    theirs = record("rasa", 500, 0.1, cpu_seconds={"rasa-full-stack": 8.0, "load-generator": 1.0})
    assert "used 1.5–2.0 ms of CPU per message" in render(MACHINE, SETUP, [ours, theirs])
