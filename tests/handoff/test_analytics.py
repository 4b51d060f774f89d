"""The quality figures (#15) on a seeded history with known answers (tests/handoff/
analytics_history.py has the table), through the real app on SQLite and PostgreSQL: every
figure of ``GET /api/desk/analytics``, each CSV download, the channel and period filters, a bad
period, and who may ask."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.messages import utcnow
from handoff.analytics.csv_export import Figure
from tests.handoff.analytics_history import ZONE, History, seed_history
from tests.support.desk import Agent, Desk


def dist(*counts: int) -> dict[str, int]:
    return {str(n): c for n, c in zip(range(1, 6), counts, strict=True)}


@pytest.fixture
async def seeded(desk_app: Desk) -> tuple[Desk, Agent, History]:
    await desk_app.create_agent("anna")
    await desk_app.create_agent("boris")
    history = await seed_history(desk_app.services.db)
    return desk_app, await desk_app.admin(), history


async def figures(desk: Desk, agent: Agent, **params: str) -> dict[str, Any]:
    response = await desk.http.get("/api/desk/analytics", params=params, headers=agent.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def table(desk: Desk, agent: Agent, figure: str, **params: str) -> list[dict[str, str]]:
    response = await desk.http.get(f"/api/desk/analytics/{figure}.csv", params=params,
                                   headers=agent.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"abonent-" + figure)
    assert disposition.endswith('.csv"')
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def both_days(history: History) -> dict[str, str]:
    return {"from": history.day1.isoformat(), "to": history.day2.isoformat()}


def service(key: dict[str, Any], handoffs: int, answered: int, within: int,
            share: float | None, median: float | None, p90: float | None,
            abandoned: int) -> dict[str, Any]:
    return {**key, "handoffs": handoffs, "answered": answered,
            "answered_within_target": within, "share_answered_within_target": share,
            "median_wait_seconds": median, "p90_wait_seconds": p90, "abandoned": abandoned}


ZERO: tuple[Any, ...] = (0, 0, 0, None, None, None, 0)


async def test_every_figure_of_the_seeded_history(
    seeded: tuple[Desk, Agent, History],
) -> None:
    desk, admin, history = seeded
    body = await figures(desk, admin, **both_days(history))

    start = datetime.combine(history.day1, time(), ZONE).astimezone(UTC)
    assert body["period"] == {
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": "Europe/Minsk", "channel": None,
    }

    # containment: K1, K3, K4 of the ten conversations in the period never had a handoff
    assert body["containment"] == {
        "conversations": 10, "contained": 3, "share": 0.3,
        "by_family": [
            {"family": "check_balance", "conversations": 4, "contained": 2, "share": 0.5},
            {"family": "roaming", "conversations": 2, "contained": 1, "share": 0.5},
            {"family": None, "conversations": 2, "contained": 0, "share": 0.0},
            {"family": "complaint", "conversations": 1, "contained": 0, "share": 0.0},
            {"family": "tariff", "conversations": 1, "contained": 0, "share": 0.0},
        ],
        "by_channel": [
            {"channel": "webchat", "conversations": 6, "contained": 3, "share": 0.5},
            {"channel": "telegram", "conversations": 4, "contained": 0, "share": 0.0},
        ],
    }

    # repeat contacts: K1 (web) by K2 (Telegram, same verified customer), K2 by K9 after the
    # period, K3 by K5 (same identity); K4 is the same unverified customer row, another
    # identity: not linked
    assert body["repeat_contacts"] == {
        "contacts": 8, "repeated": 3, "share": 0.375, "window_days": 7,
        "by_family": [
            {"family": "check_balance", "contacts": 4, "repeated": 1, "share": 0.25},
            {"family": "roaming", "contacts": 2, "repeated": 2, "share": 1.0},
            {"family": "complaint", "contacts": 1, "repeated": 0, "share": 0.0},
            {"family": "tariff", "contacts": 1, "repeated": 0, "share": 0.0},
        ],
    }

    # CSAT: ratings 5 (H2), 4 (H5), 1 (H6), 3 (H11); unresolved: H5 (no resolution), H6 (1)
    assert body["csat"] == {
        "count": 4, "average": 3.25, "distribution": dist(1, 0, 1, 1, 1), "closed": 4,
        "unresolved": 2, "unresolved_share": 0.5,
        "by_agent": [
            {"agent": "anna", "display_name": "Anna", "count": 2, "average": 4.5,
             "distribution": dist(0, 0, 0, 1, 1), "closed": 2, "unresolved": 1,
             "unresolved_share": 0.5},
            {"agent": "boris", "display_name": "Boris", "count": 2, "average": 2.0,
             "distribution": dist(1, 0, 1, 0, 0), "closed": 2, "unresolved": 1,
             "unresolved_share": 0.5},
            {"agent": None, "display_name": None, "count": 0, "average": None,
             "distribution": dist(0, 0, 0, 0, 0), "closed": 0, "unresolved": 0,
             "unresolved_share": None},
        ],
        "by_channel": [
            {"channel": "telegram", "count": 3, "average": 3.0,
             "distribution": dist(1, 0, 1, 0, 1), "closed": 3, "unresolved": 1,
             "unresolved_share": 0.3333},
            {"channel": "webchat", "count": 1, "average": 4.0,
             "distribution": dist(0, 0, 0, 1, 0), "closed": 1, "unresolved": 1,
             "unresolved_share": 1.0},
        ],
    }

    # service level: waits 60, 240, 30, 180 (answered); H7 still waiting and H10 returned
    # after 600 s count against the target, H8 cancelled after 20 s does not
    level = body["service_level"]
    assert (level["target_seconds"], level["goal"], level["good"]) == (180, 0.9, 0.99)
    assert level["total"] == service({}, 7, 4, 3, 0.5, 120.0, 222.0, 2)
    assert level["per_day"] == [
        service({"day": history.day1.isoformat()}, 2, 2, 2, 1.0, 45.0, 57.0, 0),
        service({"day": history.day2.isoformat()}, 5, 2, 1, 0.25, 210.0, 234.0, 2),
    ]
    hours = {9: (1, 1, 0, 0.0, 240.0, 240.0, 0),
             10: (2, 1, 1, 1.0, 30.0, 30.0, 1),
             12: (1, 1, 1, 1.0, 60.0, 60.0, 0),
             14: (1, 0, 0, 0.0, None, None, 0),
             16: (1, 1, 1, 1.0, 180.0, 180.0, 0),
             23: (1, 0, 0, 0.0, None, None, 1)}  # 20:30 UTC: the hours are local
    assert level["per_hour"] == [service({"hour": h}, *hours.get(h, ZERO))
                                 for h in range(24)]

    # sentiment of the 15 inbound messages of the period (the bot's lines do not count):
    # "Вы меня достали, мошенники!!!" (strongly negative), "очень плохо", the impatient
    # "Где мой роутер?!" and the weary "баланс опять" are negative, "Спасибо, отлично!" positive
    assert body["sentiment"] == {
        "total": 15, "negative": 4, "neutral": 10, "positive": 1,
        "shares": {"negative": 0.2667, "neutral": 0.6667, "positive": 0.0667},
        "seed": {"negative": 0.07, "neutral": 0.85, "positive": 0.08},
    }

    assert body["handoff_reasons"] == [
        {"reason": "subscriber_request", "count": 3},
        {"reason": "complaint", "count": 1},
        {"reason": "nlu_unavailable", "count": 1},
        {"reason": "not_understood_twice", "count": 1},
        {"reason": "topic_needs_agent", "count": 1},
    ]
    # nlu_fallback twice, out_of_scope, and an NLU answer without an intent; "очень плохо"
    # (the NLU never saw it) is not one
    assert body["not_understood"] == [
        {"text": "где мой роутер", "count": 2},
        {"text": "=sum(a1:a9)", "count": 1},
        {"text": "xyzzy", "count": 1},
    ]
    for secret in ("+375", "291234567", "identity", "conversation_id"):
        assert secret not in str(body["not_understood"])


async def test_every_figure_as_csv(seeded: tuple[Desk, Agent, History]) -> None:
    desk, admin, history = seeded
    period = both_days(history)
    assert {f.value for f in Figure} == {
        "containment", "repeat_contacts", "csat", "service_level", "service_level_daily",
        "service_level_hourly", "sentiment", "handoff_reasons", "not_understood", "goodwill"}

    rows = await table(desk, admin, "containment", **period)
    assert rows[0] == {"dimension": "overall", "key": "", "conversations": "10",
                       "contained": "3", "share": "0.3"}
    assert [(r["dimension"], r["key"], r["share"]) for r in rows[1:]] == [
        ("family", "check_balance", "0.5"), ("family", "roaming", "0.5"), ("family", "", "0.0"),
        ("family", "complaint", "0.0"), ("family", "tariff", "0.0"),
        ("channel", "webchat", "0.5"), ("channel", "telegram", "0.0")]

    rows = await table(desk, admin, "repeat_contacts", **period)
    assert rows[0] == {"dimension": "overall", "key": "", "contacts": "8", "repeated": "3",
                       "share": "0.375"}
    assert [(r["key"], r["repeated"]) for r in rows[1:]] == [
        ("check_balance", "1"), ("roaming", "2"), ("complaint", "0"), ("tariff", "0")]

    rows = await table(desk, admin, "csat", **period)
    assert rows[0] == {"dimension": "overall", "key": "", "display_name": "", "count": "4",
                       "average": "3.25", "rating_1": "1", "rating_2": "0", "rating_3": "1",
                       "rating_4": "1", "rating_5": "1", "closed": "4", "unresolved": "2",
                       "unresolved_share": "0.5"}
    assert [(r["dimension"], r["key"], r["display_name"], r["average"]) for r in rows[1:]] == [
        ("agent", "anna", "Anna", "4.5"), ("agent", "boris", "Boris", "2.0"),
        ("agent", "", "", ""), ("channel", "telegram", "", "3.0"),
        ("channel", "webchat", "", "4.0")]

    rows = await table(desk, admin, "service_level_daily", **period)
    assert rows == [
        {"date": history.day1.isoformat(), "handoffs": "2", "answered": "2",
         "answered_within_target": "2", "share_answered_within_target": "1.0",
         "median_wait_seconds": "45.0", "p90_wait_seconds": "57.0", "abandoned": "0"},
        {"date": history.day2.isoformat(), "handoffs": "5", "answered": "2",
         "answered_within_target": "1", "share_answered_within_target": "0.25",
         "median_wait_seconds": "210.0", "p90_wait_seconds": "234.0", "abandoned": "2"},
    ]

    rows = await table(desk, admin, "service_level_hourly", **period)
    assert [r["hour"] for r in rows] == [str(h) for h in range(24)]
    assert rows[23] == {"hour": "23", "handoffs": "1", "answered": "0",
                        "answered_within_target": "0", "share_answered_within_target": "0.0",
                        "median_wait_seconds": "", "p90_wait_seconds": "", "abandoned": "1"}
    assert rows[0]["handoffs"] == "0" and rows[0]["share_answered_within_target"] == ""

    rows = await table(desk, admin, "service_level", **period)
    assert [(r["dimension"], r["key"], r["handoffs"]) for r in rows[:4]] == [
        ("total", "", "7"), ("day", history.day1.isoformat(), "2"),
        ("day", history.day2.isoformat(), "5"), ("hour", "0", "0")]
    assert rows[0]["share_answered_within_target"] == "0.5" and len(rows) == 1 + 2 + 24

    rows = await table(desk, admin, "sentiment", **period)
    assert rows == [
        {"label": "negative", "count": "4", "share": "0.2667", "seed_share": "0.07"},
        {"label": "neutral", "count": "10", "share": "0.6667", "seed_share": "0.85"},
        {"label": "positive", "count": "1", "share": "0.0667", "seed_share": "0.08"},
    ]

    rows = await table(desk, admin, "handoff_reasons", **period)
    assert [(r["reason"], r["count"]) for r in rows] == [
        ("subscriber_request", "3"), ("complaint", "1"), ("nlu_unavailable", "1"),
        ("not_understood_twice", "1"), ("topic_needs_agent", "1")]

    # the subscriber's "=SUM(A1:A9)" is text in a spreadsheet, not a formula
    rows = await table(desk, admin, "not_understood", **period)
    assert rows == [{"text": "где мой роутер", "count": "2"},
                    {"text": "'=sum(a1:a9)", "count": "1"},
                    {"text": "xyzzy", "count": "1"}]

    response = await desk.http.get("/api/desk/analytics/containment.csv", params=period,
                                   headers=admin.headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="abonent-containment-{history.day1}-{history.day2}.csv"')
    unknown = await desk.http.get("/api/desk/analytics/passwords.csv", headers=admin.headers)
    assert unknown.status_code == 422


async def test_the_channel_filter(seeded: tuple[Desk, Agent, History]) -> None:
    desk, admin, history = seeded
    body = await figures(desk, admin, channel="telegram", **both_days(history))
    assert body["period"]["channel"] == "telegram"
    assert (body["containment"]["conversations"], body["containment"]["contained"]) == (4, 0)
    assert [r["channel"] for r in body["containment"]["by_channel"]] == ["telegram"]
    # K2 is followed by K9 on the web chat: the repeat may come on any channel
    repeat = body["repeat_contacts"]
    assert (repeat["contacts"], repeat["repeated"], repeat["share"]) == (2, 1, 0.5)
    assert body["csat"]["count"] == 3
    assert body["csat"]["distribution"] == dist(1, 0, 1, 0, 1)
    assert body["service_level"]["total"] == service({}, 4, 3, 3, 1.0, 60.0, 156.0, 1)
    sentiment = body["sentiment"]
    assert [sentiment[k] for k in ("total", "negative", "neutral", "positive")] == [7, 2, 5, 0]
    assert body["handoff_reasons"] == [{"reason": "subscriber_request", "count": 2},
                                       {"reason": "not_understood_twice", "count": 1},
                                       {"reason": "topic_needs_agent", "count": 1}]
    web = await figures(desk, admin, channel="webchat", **both_days(history))
    assert web["not_understood"] == []
    rows = await table(desk, admin, "containment", channel="webchat", **both_days(history))
    assert rows[0]["conversations"] == "6"


async def test_the_period_filter_and_the_default_period(
    seeded: tuple[Desk, Agent, History],
) -> None:
    desk, admin, history = seeded
    day2 = history.day2.isoformat()
    body = await figures(desk, admin, **{"from": day2, "to": day2})
    assert body["containment"]["conversations"] == 5  # K5, K7, K8, K10, K11
    assert body["service_level"]["total"]["handoffs"] == 5
    assert [r["day"] for r in body["service_level"]["per_day"]] == [day2]
    assert body["repeat_contacts"]["repeated"] == 0

    # a date and time: from day1 10:00 local (07:00 UTC) to day1 12:30 local (inclusive)
    start = f"{history.day1.isoformat()}T07:00:00Z"
    end = f"{history.day1.isoformat()}T09:30:00Z"
    body = await figures(desk, admin, **{"from": start, "to": end})
    assert body["containment"]["conversations"] == 3  # K4, K6, K2

    # the default: the last 7 calendar days in DESK_TIMEZONE; the history is older
    body = await figures(desk, admin)
    assert body["containment"]["conversations"] == 0
    days = [r["day"] for r in body["service_level"]["per_day"]]
    today = utcnow().astimezone(ZONE).date()
    assert days == [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    since = datetime.fromisoformat(body["period"]["from"]).astimezone(ZONE)
    assert since.date() == date.fromisoformat(days[0]) and since.hour == 0


@pytest.mark.parametrize("params", [
    {"from": "2026-11-03", "to": "2026-11-02"},
    {"from": "2024-01-01", "to": "2025-01-01"},  # 367 days
    {"from": "yesterday"},
    {"channel": "Web Chat"},
    {"to": "9999-12-31T00:00:00Z"},  # the edges of the calendar
    {"to": "0001-01-01T00:00:00Z"},
    {"from": "0001-01-01"},
])
async def test_a_bad_period_is_422(desk_app: Desk, params: dict[str, str]) -> None:
    admin = await desk_app.admin()
    for path in ("/api/desk/analytics", "/api/desk/analytics/csat.csv"):
        response = await desk_app.http.get(path, params=params, headers=admin.headers)
        assert response.status_code == 422, (path, params, response.text)


async def test_a_year_is_allowed(desk_app: Desk) -> None:
    admin = await desk_app.admin()
    response = await desk_app.http.get(
        "/api/desk/analytics", params={"from": "2025-01-01", "to": "2025-12-31"},
        headers=admin.headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["service_level"]["per_day"]) == 365


async def test_supervisors_only(desk_app: Desk) -> None:
    anna = await desk_app.create_agent("anna")
    for path in ("/api/desk/analytics", "/api/desk/analytics/sentiment.csv"):
        assert (await desk_app.http.get(path)).status_code == 401
        response = await desk_app.http.get(path, headers=anna.headers)
        assert response.status_code == 403
        assert response.json() == {"detail": "supervisors only"}
