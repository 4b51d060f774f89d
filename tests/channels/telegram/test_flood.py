"""One busy chat must not starve the others: chat A floods the bot with 120 messages, chat B asks
one question right after, and B's answer comes within seconds while A's backlog is still being
answered and A's replies drained at Telegram's ~1 message/s per chat. The real app polls the
fake Bot API (which hands out updates as Telegram does: whatever is waiting, up to 100 a
``getUpdates``), understands with the real Rasa model and answers through the outbox.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from tests.support.telegram import TelegramApp, new_telegram_user

pytestmark = pytest.mark.rasa

FLOOD = 120
TRICKLE = 24  # the first ones a few at a time: one getUpdates round, one job request each
# What a subscriber may wait for an answer while someone else floods the bot. The path itself
# takes well under a second here; the bound is generous for a loaded 2-core machine, and far
# below what a starved chat waits (A's backlog takes ~10 s to answer on an idle machine, and
# A's 120 replies two minutes to drain).
BOUND_SECONDS = 10.0
QUESTIONS = (
    "какой у меня баланс", "роуминг в Польше", "как позвонить в поддержку",
    "не работает интернет", "сколько стоит роуминг в Турции", "как узнать свой номер",
)


async def test_a_flooding_chat_does_not_delay_another_chats_answer(
    polling_app: TelegramApp,
) -> None:
    api, flooder, asker = polling_app.api, new_telegram_user(), new_telegram_user(first_name="Boris")
    for number in range(FLOOD):
        api.enqueue(flooder.text(f"{QUESTIONS[number % len(QUESTIONS)]} {number}"))
        if number < TRICKLE:
            await asyncio.sleep(0.05)
    asked = time.monotonic()
    question = api.enqueue(asker.text("как позвонить в поддержку с городского"))

    served = await api.wait_for(lambda: api.served_at(question), what="B's update served")
    [answer, *_] = await api.wait_sent(asker.id, timeout=180)
    waited = answer.at - served

    [row, *_] = await polling_app.outbox(asker)
    backlog = [m for m in await polling_app.messages(flooder, "in")
               if m.processed_at is None or _utc(m.processed_at) > _utc(row.created_at)]
    flood_sent = len(api.sent(flooder.id))
    print(f"\nB's question: served {served - asked:.2f} s after it was asked; its reply stored "
          f"{(_utc(row.created_at) - _wall(served)).total_seconds():.2f} s and sent "
          f"{waited:.2f} s after it was served; A's messages still unanswered then: "
          f"{len(backlog)}, A's replies sent: {flood_sent}")

    assert waited < BOUND_SECONDS, f"B waited {waited:.1f} s after its update was served"
    assert backlog, "B was answered only after A's whole backlog"
    assert flood_sent < FLOOD, "A's replies were still being drained when B was answered"
    assert "237-98-98" in answer.text


def _wall(monotonic: float) -> datetime:
    """A ``time.monotonic()`` reading (the fake server's clock) as a UTC wall-clock time."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic), UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
