"""The quality figures, worked out in Python over the period's rows (pure: no I/O).

:mod:`handoff.analytics` reads the rows (a few bounded queries per request, see there) and
hands them here. Every share is a 0..1 float rounded to 4 places, ``None`` when its
denominator is 0. "The period" is ``[from, to)``; a row belongs to it by the time it started
(a conversation's ``created_at``, a handoff's escalation, a message's arrival).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from handoff.analytics.schemas import (
    RATINGS,
    AgentCsat,
    ChannelContainment,
    ChannelCsat,
    Containment,
    Csat,
    DayService,
    FamilyContainment,
    FamilyRepeat,
    HourService,
    ReasonCount,
    RepeatContacts,
    SentimentOut,
    ServiceCounts,
    ServiceLevel,
    TextCount,
)
from handoff.sentiment import Label, analyse_many
from handoff.stats import HandoffFacts, period_stats
from handoff.tables import HandoffStatus
from handoff.timeutil import aware

REPEAT_WINDOW = timedelta(days=7)
GOAL, GOOD = 0.90, 0.99  # the regulator's share answered within the target, and a good one
SEED_SENTIMENT = {"negative": 0.07, "neutral": 0.85, "positive": 0.08}
TOP_NOT_UNDERSTOOD = 20
UNRESOLVED_RATING = 2  # a rating of 1 or 2 says the problem was not solved

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: str
    channel: str
    created_at: datetime
    customer: str  # who, for repeat contacts: "customer:<id>" (verified number) or "identity:<id>"
    family: str | None  # the topic family; None when nothing said what it was about
    had_handoff: bool


@dataclass(frozen=True, slots=True)
class HandoffRow:
    created_at: datetime
    status: str
    reason: str
    channel: str
    wait_seconds: float | None
    ended_at: datetime | None
    resolution: str | None
    rating: int | None
    agent: str | None  # the username of the agent who had it
    agent_name: str | None


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _grouped(rows: Sequence[T], key: Callable[[T], str | None]) -> list[tuple[str | None, list[T]]]:
    """The rows grouped by ``key``, the biggest group first (ties by key, None last)."""
    groups: dict[str | None, list[T]] = defaultdict(list)
    for item in rows:
        groups[key(item)].append(item)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0] is None, kv[0] or ""))


# -- containment ---------------------------------------------------------------------------

def containment(conversations: Sequence[ConversationRow]) -> Containment:
    """**Containment**: the share of conversations the bot resolved without a person.

    * numerator: conversations started in the period that never had a handoff (no escalation
      of any reason, a supervisor joining included), as of now;
    * denominator: conversations started in the period (on the channel, when filtered);
    * per intent family: by the conversation's *topic*, the family of its first understood
      inbound message whose intent names a topic (greetings, thanks, "a person please",
      out of scope and ``nlu_fallback`` do not; ``family: null`` when none did);
    * per channel: the conversation's channel.

    Rows are sorted by conversations, most first.
    """
    def counts(rows: Sequence[ConversationRow]) -> dict[str, Any]:
        contained = sum(1 for c in rows if not c.had_handoff)
        return {"conversations": len(rows), "contained": contained,
                "share": share(contained, len(rows))}

    return Containment(
        **counts(conversations),
        by_family=[FamilyContainment(family=k, **counts(v))
                   for k, v in _grouped(conversations, lambda c: c.family)],
        by_channel=[ChannelContainment(channel=k or "", **counts(v))
                    for k, v in _grouped(conversations, lambda c: c.channel)],
    )


# -- repeat contacts -----------------------------------------------------------------------

def repeat_contacts(
    contacts: Sequence[ConversationRow], history: Iterable[ConversationRow]
) -> RepeatContacts:
    """**Repeat contacts**: the share of contacts followed by another contact from the same
    customer on the same topic within 7 days.

    * a contact: a conversation started in the period (on the channel, when filtered) whose
      topic is known (see containment; a "hello" alone has no topic to repeat);
    * the same customer: the customer behind the identity (as linked now) when that customer
      has a verified number, else the identity itself;
    * numerator: contacts followed by another conversation of the same customer, on any
      channel, with the same topic family, started after it and at most 7 days (168 h)
      later (so a contact near the period's end may be followed after the period);
    * denominator: the contacts.

    ``history`` is every conversation that may follow one (the period plus 7 days, all
    channels).
    """
    starts: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for c in history:
        if c.family is not None:
            starts[c.customer, c.family].append((aware(c.created_at), c.id))
    for times in starts.values():
        times.sort()
    with_topic = [c for c in contacts if c.family is not None]

    def followed(c: ConversationRow) -> bool:
        times = starts.get((c.customer, c.family or ""), [])
        start = aware(c.created_at)
        after = bisect.bisect_right(times, (start, c.id))
        return after < len(times) and times[after][0] - start <= REPEAT_WINDOW

    repeated = {c.id for c in with_topic if followed(c)}

    def counts(rows: Sequence[ConversationRow]) -> dict[str, Any]:
        count = sum(1 for c in rows if c.id in repeated)
        return {"contacts": len(rows), "repeated": count, "share": share(count, len(rows))}

    return RepeatContacts(
        **counts(with_topic), window_days=REPEAT_WINDOW.days,
        by_family=[FamilyRepeat(family=k or "", **counts(v))
                   for k, v in _grouped(with_topic, lambda c: c.family)],
    )


# -- CSAT ----------------------------------------------------------------------------------

def csat(handoffs: Sequence[HandoffRow]) -> Csat:
    """**CSAT**: the subscribers' 1-5 ratings (asked after an agent closes a handoff), over the
    handoffs escalated in the period: ``count``, ``average`` (2 places) and ``distribution``
    (ratings per value).

    **Unresolved**: numerator: closed handoffs (``status`` closed) with no resolution written,
    or rated 1 or 2; denominator: the closed handoffs. Per agent (the agent who had the
    handoff; ``agent: null`` for none) and per channel.
    """
    def counts(rows: Sequence[HandoffRow]) -> dict[str, Any]:
        ratings = [h.rating for h in rows if h.rating is not None]
        closed = [h for h in rows if h.status == HandoffStatus.CLOSED]
        unresolved = sum(
            1 for h in closed
            if not (h.resolution or "").strip()
            or (h.rating is not None and h.rating <= UNRESOLVED_RATING)
        )
        per_value = Counter(str(r) for r in ratings)
        return {
            "count": len(ratings),
            "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "distribution": {r: per_value.get(r, 0) for r in RATINGS},
            "closed": len(closed), "unresolved": unresolved,
            "unresolved_share": share(unresolved, len(closed)),
        }

    names = {h.agent: h.agent_name for h in handoffs}
    return Csat(
        **counts(handoffs),
        by_agent=[AgentCsat(agent=k, display_name=names.get(k), **counts(v))
                  for k, v in _grouped(handoffs, lambda h: h.agent)],
        by_channel=[ChannelCsat(channel=k or "", **counts(v))
                    for k, v in _grouped(handoffs, lambda h: h.channel)],
    )


# -- service level -------------------------------------------------------------------------

def service_level(
    handoffs: Sequence[HandoffRow], *, since: datetime, until: datetime, zone: ZoneInfo,
    now: datetime, target: int,
) -> ServiceLevel:
    """**Service level**, over the handoffs escalated in the period, in ``total``, per
    calendar day and per hour of the day (both in DESK_TIMEZONE, by the escalation), with the
    definitions of ``GET /api/desk/stats`` (handoff/stats.py):

    * ``handoffs``: escalations;
    * ``share_answered_within_target``: numerator: handoffs whose first agent reply came
      within HANDOFF_TARGET_SECONDS of the escalation; denominator: handoffs whose outcome
      against the target is known: answered, or unanswered for at least the target (still
      waiting now, or ended after it). To compare with ``goal`` (0.90) and ``good`` (0.99);
    * ``median_wait_seconds`` / ``p90_wait_seconds``: escalation to the first agent reply, over
      the answered handoffs (linear interpolation);
    * ``abandoned``: cancelled by the subscriber, or closed / returned with no agent reply.

    ``per_day`` has a row for every day of the period (zeros too); ``per_hour`` 24 rows, the
    hours 0-23 summed over the period's days.
    """
    def counts(rows: Sequence[HandoffRow]) -> dict[str, Any]:
        facts = [HandoffFacts(h.created_at, h.status, h.wait_seconds, h.ended_at, h.rating)
                 for h in rows]
        stats = period_stats(facts, since=since, now=now, target=target)
        return stats.model_dump(include=set(ServiceCounts.model_fields))

    days: dict[str, list[HandoffRow]] = {d: [] for d in local_days(since, until, zone)}
    hours: dict[int, list[HandoffRow]] = {h: [] for h in range(24)}
    for h in handoffs:
        local = aware(h.created_at).astimezone(zone)
        days.setdefault(local.date().isoformat(), []).append(h)
        hours[local.hour].append(h)
    return ServiceLevel(
        target_seconds=target, goal=GOAL, good=GOOD,
        total=ServiceCounts(**counts(handoffs)),
        per_day=[DayService(day=day, **counts(rows)) for day, rows in sorted(days.items())],
        per_hour=[HourService(hour=hour, **counts(rows)) for hour, rows in hours.items()],
    )


def local_days(since: datetime, until: datetime, zone: ZoneInfo) -> list[str]:
    """The calendar days (DESK_TIMEZONE) that ``[since, until)`` touches, oldest first."""
    first = aware(since).astimezone(zone).date()
    last = (aware(until) - timedelta(microseconds=1)).astimezone(zone).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


# -- sentiment -----------------------------------------------------------------------------

_COARSE = {Label.STRONGLY_NEGATIVE: "negative", Label.NEGATIVE: "negative",
           Label.NEUTRAL: "neutral", Label.POSITIVE: "positive"}


def sentiment(texts: Iterable[str]) -> SentimentOut:
    """**Sentiment** of the subscribers' messages: numerator: inbound messages with text,
    arrived in the period, scored by ``handoff.sentiment.analyse`` as negative (strongly
    negative included: score <= -2), neutral or positive (score >= 2); denominator: those
    messages. ``seed``: the operator's own figures (7 / 85 / 8 %) to compare with."""
    counts = Counter(_COARSE[verdict.label] for verdict in analyse_many(list(texts)))
    total = sum(counts.values())
    return SentimentOut(
        total=total, **{k: counts.get(k, 0) for k in SEED_SENTIMENT},
        shares={k: share(counts.get(k, 0), total) for k in SEED_SENTIMENT},
        seed=dict(SEED_SENTIMENT),
    )


# -- reasons and misunderstandings ---------------------------------------------------------

def handoff_reasons(handoffs: Sequence[HandoffRow]) -> list[ReasonCount]:
    """**Handoff reasons**: handoffs escalated in the period per reason (bot/reasons.py),
    most first."""
    counts = Counter(h.reason for h in handoffs)
    return [ReasonCount(reason=r, count=n)
            for r, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def normalise_text(text: str) -> str:
    """Lower case, whitespace collapsed, surrounding punctuation trimmed: "Где  мой роутер?!"
    and "где мой роутер" are one line."""
    return " ".join(text.casefold().split()).strip(" .,!?;:…")


def not_understood(texts: Iterable[str], limit: int = TOP_NOT_UNDERSTOOD) -> list[TextCount]:
    """**Not understood**: the subscribers' messages the bot did not understand, arrived in the
    period, grouped by :func:`normalise_text`, the ``limit`` (20) most frequent (ties by
    text). Which messages: see ``handoff.analytics.Analytics``. Only the text is kept: no
    identity, conversation or time."""
    counts = Counter(t for t in (normalise_text(text) for text in texts) if t)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [TextCount(text=t, count=n) for t, n in ordered]
