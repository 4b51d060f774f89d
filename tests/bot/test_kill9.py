"""kill -9 under load: 10 web chat subscribers × 7 messages, the app SIGKILLed mid-run and
restarted, every message retried with its id: each answered exactly once, nothing lost or
doubled in the database. One iteration per database here; ``scripts/stress.py`` repeats it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.server import RasaServer
from tests.support.kill9 import run_kill9

pytestmark = pytest.mark.rasa


async def test_kill9_mid_run_loses_and_doubles_nothing(
    database_url: str, rasa_server: RasaServer, tmp_path: Path
) -> None:
    result = await run_kill9(
        database_url=database_url, rasa_url=rasa_server.url, rasa_token=rasa_server.token,
        workdir=tmp_path / "kill9",
    )
    assert result.restarts == 1 and result.killed_after
    assert 0 < result.killed_after[0] < result.messages, "killed mid-run"
    assert result.problems == []
    assert (result.answered, result.lost, result.doubled, result.mismatched) == (70, 0, 0, 0)
    assert result.stored_inbound == 70
    assert result.resent_answered > 0
