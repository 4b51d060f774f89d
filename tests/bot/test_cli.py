"""The command line follows ABONENT_LOG_LEVEL: its logging level, and a traceback only in DEBUG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nlu.training import PROJECT_ROOT


def abonent(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABONENT_")}
    environment.update(PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=environment, cwd=tmp_path,  # no .env here
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_log_level_comes_from_the_settings(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'abonent.db'}"
    debug = abonent(tmp_path, "db", "upgrade", ABONENT_LOG_LEVEL="DEBUG", DATABASE_URL=database)
    assert debug.returncode == 0, debug.stderr
    assert " DEBUG " in debug.stderr
    info = abonent(tmp_path, "db", "upgrade", ABONENT_LOG_LEVEL="INFO", DATABASE_URL=database)
    assert info.returncode == 0, info.stderr
    assert " DEBUG " not in info.stderr


def test_an_error_is_one_line_and_a_traceback_only_in_debug(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-kb")
    plain = abonent(tmp_path, "nlu", "build-data", str(tmp_path / "out"), ABONENT_KB_DIR=missing)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == ["error: no-such-kb: the data directory does not exist"]

    debug = abonent(tmp_path, "nlu", "build-data", str(tmp_path / "out"), ABONENT_KB_DIR=missing,
                    ABONENT_LOG_LEVEL="DEBUG")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().endswith("error: no-such-kb: the data directory does not exist")


def test_an_invalid_log_level_is_refused_clearly(tmp_path: Path) -> None:
    result = abonent(tmp_path, "kb", "check", ABONENT_LOG_LEVEL="loud")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "ABONENT_LOG_LEVEL must be one of" in result.stderr
