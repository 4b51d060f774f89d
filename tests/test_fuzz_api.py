"""Property-based fuzzing of every public endpoint from the app's OpenAPI schema (schemathesis):
no 5xx, no answer to an anonymous desk call but 401/403/422, nothing stored from a rejected
request. A small budget here; ``scripts/stress.py`` sends ≥ 1,000 requests per endpoint."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from nlu.server import RasaServer
from tests.support.fuzz import fuzz_app

pytestmark = pytest.mark.rasa

EXAMPLES = int(os.environ.get("ABONENT_FUZZ_EXAMPLES", "40"))


async def test_fuzzed_requests_get_no_5xx_and_store_nothing_when_rejected(
    database_url: str, rasa_server: RasaServer, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    report = await fuzz_app(
        database_url=database_url, rasa_url=rasa_server.url, rasa_token=rasa_server.token,
        workdir=tmp_path, examples=EXAMPLES, seed=seed,
    )
    assert report.problems == [], f"seed {seed}: " + "\n".join(report.problems[:20])
    anonymous = {op for op in report.calls if not op.startswith(("GET /api/desk", "POST /api/desk"))}
    assert {"GET /healthz", "GET /readyz", "POST /api/webchat/messages",
            "GET /api/webchat/updates"} <= anonymous
    assert len(report.calls) >= 16, sorted(report.calls)
    assert all(n >= min(EXAMPLES, 10) for n in report.calls.values()), report.calls
    accepted = report.statuses["POST /api/webchat/messages"][200]
    rejected = sum(n for status, n in report.statuses["POST /api/webchat/messages"].items()
                   if status != 200)
    assert accepted and rejected, "the fuzzer sent both valid and invalid messages"
