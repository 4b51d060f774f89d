"""The one silence rule (handoff/silence.py): from the escalation, or the subscriber's first
unanswered message, to a person's reply or the end of the handoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff.silence import AGENT, SUBSCRIBER, Silence, longest_ended, ongoing, silences

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_wait_for_the_first_reply_is_a_silence_and_later_questions_start_new_ones() -> None:
    events = [(at(30), SUBSCRIBER), (at(200), AGENT), (at(260), AGENT), (at(300), SUBSCRIBER),
              (at(320), SUBSCRIBER), (at(500), AGENT)]
    found = silences(T0, events)
    assert found == [Silence(T0, at(200), 2), Silence(at(300), at(500), 2)]
    assert longest_ended(found, at(600)) == 200.0
    assert ongoing(found) is None


def test_an_unanswered_question_is_ongoing_and_counts_its_messages() -> None:
    found = silences(T0, [(at(10), AGENT), (at(50), SUBSCRIBER), (at(60), SUBSCRIBER),
                          (at(70), SUBSCRIBER)])
    current = ongoing(found)
    assert current == Silence(at(50), None, 3)
    assert current.seconds(at(170)) == 120.0
    assert longest_ended(found, at(170)) == 10.0, "the ongoing one is not stored yet"


def test_the_end_of_the_handoff_ends_the_silence_and_later_events_are_ignored() -> None:
    found = silences(T0, [(at(40), SUBSCRIBER), (at(500), AGENT)], ended_at=at(90))
    assert found == [Silence(T0, at(90), 2)]


def test_a_supervisor_joining_the_bots_conversation_starts_without_a_silence() -> None:
    assert silences(T0, [(at(5), AGENT)], waiting_from_start=False) == []
    found = silences(T0, [(at(5), AGENT), (at(20), SUBSCRIBER)], waiting_from_start=False)
    assert ongoing(found) == Silence(at(20), None, 1)


def test_naive_times_from_sqlite_are_utc_and_earlier_messages_do_not_count() -> None:
    naive = T0.replace(tzinfo=None)
    found = silences(naive, [(naive - timedelta(seconds=5), SUBSCRIBER),
                             (naive + timedelta(seconds=9), AGENT)])
    assert found == [Silence(T0, at(9), 1)]
