"""Every figure of the analytics as a CSV table (``GET /api/desk/analytics/{figure}.csv``).

Text cells come from subscribers (what the bot did not understand) and from accounts (display
names), so a cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) gets a
leading ``'``: a spreadsheet shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum

from handoff.analytics.schemas import RATINGS, AnalyticsOut, CsatCounts, ServiceCounts

Cell = str | int | float | None
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Figure(StrEnum):
    CONTAINMENT = "containment"
    REPEAT_CONTACTS = "repeat_contacts"
    CSAT = "csat"
    SERVICE_LEVEL = "service_level"  # total, per day and per hour in one table
    SERVICE_LEVEL_DAILY = "service_level_daily"
    SERVICE_LEVEL_HOURLY = "service_level_hourly"
    SENTIMENT = "sentiment"
    HANDOFF_REASONS = "handoff_reasons"
    NOT_UNDERSTOOD = "not_understood"
    GOODWILL = "goodwill"


def safe_cell(value: Cell) -> str:
    """A cell as text; text that a spreadsheet would read as a formula is quoted with ``'``.
    Numbers are ours (never negative here) and written as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def render(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def _containment(body: AnalyticsOut) -> str:
    c = body.containment
    rows = [("overall", None, c), *(("family", r.family, r) for r in c.by_family),
            *(("channel", r.channel, r) for r in c.by_channel)]
    return render(("dimension", "key", "conversations", "contained", "share"),
                  ((d, k, r.conversations, r.contained, r.share) for d, k, r in rows))


def _repeat(body: AnalyticsOut) -> str:
    r = body.repeat_contacts
    rows = [("overall", None, r), *(("family", x.family, x) for x in r.by_family)]
    return render(("dimension", "key", "contacts", "repeated", "share"),
                  ((d, k, x.contacts, x.repeated, x.share) for d, k, x in rows))


def _csat(body: AnalyticsOut) -> str:
    c = body.csat
    rows: list[tuple[str, str | None, str | None, CsatCounts]] = [
        ("overall", None, None, c),
        *(("agent", r.agent, r.display_name, r) for r in c.by_agent),
        *(("channel", r.channel, None, r) for r in c.by_channel),
    ]
    header = ("dimension", "key", "display_name", "count", "average",
              *(f"rating_{r}" for r in RATINGS), "closed", "unresolved", "unresolved_share")
    return render(header, (
        (d, k, name, r.count, r.average, *(r.distribution.get(n, 0) for n in RATINGS),
         r.closed, r.unresolved, r.unresolved_share)
        for d, k, name, r in rows
    ))


_SERVICE = ("handoffs", "answered", "answered_within_target", "share_answered_within_target",
            "median_wait_seconds", "p90_wait_seconds", "abandoned")


def _service_cells(r: ServiceCounts) -> tuple[Cell, ...]:
    return (r.handoffs, r.answered, r.answered_within_target, r.share_answered_within_target,
            r.median_wait_seconds, r.p90_wait_seconds, r.abandoned)


def _daily(body: AnalyticsOut) -> str:
    return render(("date", *_SERVICE),
                  ((r.day, *_service_cells(r)) for r in body.service_level.per_day))


def _hourly(body: AnalyticsOut) -> str:
    return render(("hour", *_SERVICE),
                  ((r.hour, *_service_cells(r)) for r in body.service_level.per_hour))


def _service_level(body: AnalyticsOut) -> str:
    """The page's one link for the figure: the total, every day and every hour."""
    sl = body.service_level
    return render(("dimension", "key", *_SERVICE), [
        ("total", None, *_service_cells(sl.total)),
        *(("day", r.day, *_service_cells(r)) for r in sl.per_day),
        *(("hour", r.hour, *_service_cells(r)) for r in sl.per_hour),
    ])


def _sentiment(body: AnalyticsOut) -> str:
    s = body.sentiment
    counts = {"negative": s.negative, "neutral": s.neutral, "positive": s.positive}
    return render(("label", "count", "share", "seed_share"),
                  ((k, counts[k], s.shares[k], s.seed[k]) for k in s.seed))


def _goodwill(body: AnalyticsOut) -> str:
    """One figure per row: the counts, then the refusals per rule."""
    g = body.goodwill
    rows: list[tuple[str, str | None, Cell]] = [
        ("decisions", None, g.decisions), ("granted", None, g.granted),
        ("granted_mb", None, g.granted_mb), ("pending", None, g.pending),
        ("refused", None, g.refused),
        *(("refused_by_rule", r.rule, r.count) for r in g.refused_by_rule),
        ("used", None, g.used), ("used_share", None, g.used_share),
        ("cost", g.currency, g.cost),
    ]
    return render(("figure", "key", "value"), rows)


_RENDERERS: dict[Figure, Callable[[AnalyticsOut], str]] = {
    Figure.CONTAINMENT: _containment,
    Figure.REPEAT_CONTACTS: _repeat,
    Figure.CSAT: _csat,
    Figure.SERVICE_LEVEL: _service_level,
    Figure.SERVICE_LEVEL_DAILY: _daily,
    Figure.SERVICE_LEVEL_HOURLY: _hourly,
    Figure.SENTIMENT: _sentiment,
    Figure.HANDOFF_REASONS: lambda b: render(
        ("reason", "count"), ((r.reason, r.count) for r in b.handoff_reasons)),
    Figure.NOT_UNDERSTOOD: lambda b: render(
        ("text", "count"), ((t.text, t.count) for t in b.not_understood)),
    Figure.GOODWILL: _goodwill,
}


def figure_csv(figure: Figure, body: AnalyticsOut) -> str:
    return _RENDERERS[figure](body)
