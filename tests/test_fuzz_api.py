"""Property-based fuzzing of every public endpoint from the app's OpenAPI schema (schemathesis):
no 5xx, no answer to an anonymous desk call but 401/403/422, nothing stored from a rejected
request, no web chat conversation answered without its session token (the fuzzer aims some
requests at the sessions it opened, with and without the token). A small budget here;
``scripts/stress.py`` sends ≥ 1,000 requests per endpoint."""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest

from nlu.server import RasaServer
from tests.support.fuzz import fuzz_app

pytestmark = pytest.mark.rasa

EXAMPLES = int(os.environ.get("ABONENT_FUZZ_EXAMPLES", "40"))


async def test_fuzzed_requests_get_no_5xx_and_store_nothing_when_rejected(
    database_url: str, rasa_server: RasaServer, tmp_path: Path
) -> None:
    accepted = rejected = owned = 0
    answered: Counter[str] = Counter()
    # A draw of EXAMPLES requests now and then holds no valid message (or no invalid one, or
    # none that used a session's token); the last assertion is about the fuzzer's reach, so
    # such a draw is followed by another seed, on the same database: the users the earlier
    # draws had answered are stored, and are not the new draw's findings.
    for _draw in range(3):
        seed = random.randrange(2**32)
        report = await fuzz_app(
            database_url=database_url, rasa_url=rasa_server.url, rasa_token=rasa_server.token,
            workdir=tmp_path, examples=EXAMPLES, seed=seed, accepted_before=answered,
        )
        answered += report.accepted
        assert report.problems == [], f"seed {seed}: " + "\n".join(report.problems[:20])
        anonymous = {op for op in report.calls
                     if not op.startswith(("GET /api/desk", "POST /api/desk"))}
        assert {"GET /healthz", "GET /readyz", "POST /api/webchat/messages",
                "GET /api/webchat/updates"} <= anonymous
        assert len(report.calls) >= 16, sorted(report.calls)
        assert all(n >= min(EXAMPLES, 10) for n in report.calls.values()), report.calls
        statuses = report.statuses["POST /api/webchat/messages"]
        accepted += statuses[200]
        rejected += sum(n for status, n in statuses.items() if status != 200)
        owned += sum(counter[200] for counter in report.with_token.values())
        # without its token a known conversation is refused (401, or a 4xx for bad input)
        assert all(400 <= status < 500 for counter in report.without_token.values()
                   for status in counter), report.without_token
        if accepted and rejected and owned:
            break
    assert accepted and rejected, "the fuzzer sent both valid and invalid messages"
    assert owned, "some requests with a session's token were answered"
