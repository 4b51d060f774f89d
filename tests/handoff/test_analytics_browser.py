"""The supervisors' analytics page in Debian's Chromium (Playwright), on a small history made
through the real app: a conversation the bot answers, a handoff claimed, answered, closed and
rated 5, and one left waiting. A supervisor sees the charts (SVG bars) with the API's numbers,
downloads a figure as CSV, switches to English, and ticks an agent's skill; an agent gets 403.

A screenshot (1440×900) is saved to test-artifacts/analytics.png (docs/analytics.png, shown in
the README, is a copy of one such run; the test does not touch tracked files). A second test
serves the page a fixed body of figures (Playwright answers the API calls) and checks each
number drawn, the bar colours against 90%, and the skills checkboxes' PUT; it saves
test-artifacts/analytics-drawn.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.app import new_user
from tests.support.browser import log_in, new_page
from tests.support.desk import ADMIN_PASSWORD, Desk
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "у меня странная проблема"  # no keyword the bot knows while the NLU is down


def pct(share: float | None) -> str:
    """A share as the page writes it: one decimal at most ("66.7%", "100%")."""
    return "—" if share is None else f"{round(share * 100, 1):g}%"


async def escalate(desk: Desk) -> tuple[str, str]:
    user = new_user()
    answer = await desk.say(user, UNKNOWN)
    if answer["state"] != "waiting_agent":  # not understood once: the second time hands over
        answer = await desk.say(user, UNKNOWN)
    assert answer["state"] == "waiting_agent"
    return user, answer["conversation_id"]


async def seed_history(desk: Desk) -> None:
    """One conversation the bot handles, one handoff rated 5, one still waiting."""
    await desk.say(new_user(), "Как проверить баланс?")
    user, conversation = await escalate(desk)
    anna = await desk.create_agent("anna")
    for action, body in (("claim", None), ("messages", {"text": "Здравствуйте! Проверяю."}),
                         ("close", {"resolution": "explained"})):
        response = await desk.post(anna, conversation, action, body)
        assert response.status_code in (200, 201), response.text

    async def rated() -> bool | None:
        thanks = await desk.say(user, "5")
        return True if any("оценк" in r["text"] for r in thanks["replies"]) else None

    await eventually(rated)
    await escalate(desk)  # left waiting


async def test_a_supervisor_reads_the_analytics_page(desk_sqlite: Desk, browser: Any) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    await seed_history(desk)
    errors: list[str] = []
    context, page = await new_page(browser, accept_downloads=True)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)

    # a stranger is sent to the login page and back
    await page.goto(f"{desk.url}/desk/analytics")
    await expect(page).to_have_url(f"{desk.url}/desk/login?next=/desk/analytics")
    await log_in(page, desk.url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{desk.url}/desk/analytics")
    # (no wait_for_function: the page's CSP forbids the eval it needs)
    await expect(page.locator("body[data-loaded]")).to_have_count(1)
    assert await page.text_content("#error") == "", "the page could not load the figures"
    await expect(page.locator(".brand")).to_contain_text("Аналитика")
    await expect(page.locator("#to-desk")).to_have_attribute("href", "/desk")
    await expect(page.locator("#to-monitor")).to_have_attribute("href", "/desk/monitor")

    # the page's own query, fetched with its cookie: the numbers on the page are these
    frm = await page.input_value("#f-from")
    to = await page.input_value("#f-to")
    response = await page.request.get(f"{desk.url}/api/desk/analytics?from={frm}&to={to}")
    assert response.status == 200, await response.text()
    figures = await response.json()

    # every chart is SVG with bars
    for chart in ("#chart-service_level", "#chart-containment-channel", "#chart-csat-distribution",
                  "#chart-csat-agent", "#chart-reasons", "#chart-sentiment"):
        await expect(page.locator(f"{chart} svg.chart-svg").first).to_be_visible()
        assert await page.locator(f"{chart} svg rect.bar, {chart} svg rect.seg").count() > 0, chart

    # service level: the 90% and 99% lines, and today's share as text
    await expect(page.locator("#chart-service_level line.ref.r90")).to_have_count(1)
    await expect(page.locator("#chart-service_level line.ref.r99")).to_have_count(1)
    await expect(page.locator("#chart-service_level")).to_contain_text("90%")
    days = [d for d in figures["service_level"]["per_day"] if d["handoffs"]]
    assert days, figures["service_level"]
    today = page.locator(f'#table-service_level tr[data-key="{days[-1]["day"]}"]')
    await expect(today.locator("td.share")).to_have_text(pct(days[-1]["share_answered_within_target"]))
    await expect(today.locator("td").nth(1)).to_have_text(str(days[-1]["handoffs"]))

    # containment per channel: the web chat's share, as the API says
    webchat = next(r for r in figures["containment"]["by_channel"] if r["channel"] == "webchat")
    await expect(page.locator('#chart-containment-channel g[data-key="webchat"] text.value')
                 ).to_contain_text(pct(webchat["share"]))

    # CSAT: one 5, by anna
    csat = figures["csat"]
    assert csat["count"] == 1 and csat["average"] == 5
    await expect(page.locator("#csat-big")).to_contain_text("5")
    await expect(page.locator('#chart-csat-distribution g[data-key="5"] rect.bar')
                 ).to_have_attribute("data-value", "1")
    await expect(page.locator('#chart-csat-agent g[data-key="anna"]')).to_contain_text("5")

    # sentiment beside the seed's 7 / 85 / 8
    await expect(page.locator('#chart-sentiment g[data-key="seed"]')).to_contain_text("85%")
    await expect(page.locator('#chart-sentiment g[data-key="period"] rect.seg')).to_have_count(3)

    # handoff reasons: nlu_unavailable twice
    reasons = {r["reason"]: r["count"] for r in figures["handoff_reasons"]}
    await expect(page.locator('#chart-reasons g[data-key="nlu_unavailable"] text.value')
                 ).to_contain_text(str(reasons["nlu_unavailable"]))

    # the not-understood messages: only what the NLU answered without understanding counts,
    # and the NLU is down in this app, so the period has none (the drawn test shows a list)
    assert figures["not_understood"] == []
    await expect(page.locator("#not-understood")).to_contain_text("Нет данных за период.")

    # a figure as CSV: the link downloads it, with the page's filters
    link = page.locator('#fig-service_level a.csv').first
    href = await link.get_attribute("href")
    assert href is not None and f"from={frm}" in href and f"to={to}" in href
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert "," in text.splitlines()[0] and len(text.splitlines()) >= 2, text
    csv = await page.request.get(f"{desk.url}{href}")
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")

    # the team: anna's skills are ticked and saved on change
    team = page.locator('#team-table tr[data-agent="anna"]')
    if await page.locator("#team-error").text_content():
        pass  # the skills routes are not there yet: the rest of the page stands
    else:
        box = team.locator("input[type=checkbox]").first
        skill = await box.get_attribute("data-skill")
        await box.check()
        await expect(team.locator(".saved")).to_have_text("сохранено")
        agents = await (await page.request.get(f"{desk.url}/api/desk/agents")).json()
        assert skill in next(a for a in agents if a["username"] == "anna")["skills"]

    # the screenshot for the README
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=str(artifacts / "analytics.png"))

    # English, remembered over a reload
    await page.click("#lang")
    await expect(page.locator(".brand")).to_contain_text("Analytics")
    await expect(page.locator("#fig-service_level h2")).to_have_text("Service level")
    await expect(page.locator('#chart-sentiment g[data-key="seed"]')).to_contain_text("Seed")
    await page.reload()
    await expect(page.locator("#apply")).to_have_text("Show")

    assert errors == [], errors
    await context.close()


async def test_an_agent_gets_403_on_the_analytics_page(desk_sqlite: Desk, browser: Any) -> None:
    desk = desk_sqlite
    await desk.create_agent("boris")
    context, page = await new_page(browser, accept_downloads=True)
    try:
        await log_in(page, desk.url, "boris", "boris-password")
        response = await page.goto(f"{desk.url}/desk/analytics")
        assert response is not None and response.status == 403
        assert "analytics.js" not in await page.content()
    finally:
        await context.close()


# A body of GET /api/desk/analytics with every kind of figure, for the page's drawing alone
# (served by Playwright in place of the app's, so each number on the page has a known source).
FIGURES: dict[str, Any] = {
    "containment": {
        "conversations": 60, "contained": 45, "share": 0.75,
        "by_family": [
            {"family": "balance", "conversations": 40, "contained": 36, "share": 0.9},
            {"family": "roaming", "conversations": 20, "contained": 9, "share": 0.45},
        ],
        "by_channel": [
            {"channel": "webchat", "conversations": 30, "contained": 20, "share": 0.6667},
            {"channel": "telegram", "conversations": 30, "contained": 25, "share": 0.8333},
        ],
    },
    "repeat_contacts": {"contacts": 60, "repeated": 3, "share": 0.05, "by_family": [
        {"family": "roaming", "contacts": 20, "repeated": 3, "share": 0.15}]},
    "csat": {
        "average": 4.25, "count": 8, "distribution": {"1": 1, "2": 0, "3": 1, "4": 1, "5": 5},
        "unresolved": 2, "closed": 10, "unresolved_share": 0.2,
        "by_agent": [{"agent": "anna", "display_name": "Anna", "average": 4.5, "count": 6},
                     {"agent": "boris", "display_name": "Boris", "average": 3.5, "count": 2}],
        "by_channel": [{"channel": "webchat", "average": 4.25, "count": 8}],
    },
    "service_level": {
        "target_seconds": 180,
        "total": {"handoffs": 15, "answered_within_target": 13, "share_answered_within_target": 0.8667,
                  "median_wait_seconds": 75, "p90_wait_seconds": 250, "abandoned": 1},
        "per_day": [
            {"day": "2026-11-29", "handoffs": 10, "answered_within_target": 10,
             "share_answered_within_target": 1.0, "median_wait_seconds": 60,
             "p90_wait_seconds": 150, "abandoned": 0},
            {"day": "2026-11-30", "handoffs": 0, "answered_within_target": 0,
             "share_answered_within_target": None, "median_wait_seconds": None,
             "p90_wait_seconds": None, "abandoned": 0},
            {"day": "2026-12-01", "handoffs": 5, "answered_within_target": 3,
             "share_answered_within_target": 0.6, "median_wait_seconds": 200,
             "p90_wait_seconds": 400, "abandoned": 1},
        ],
        "per_hour": [{"hour": h, "handoffs": 5 if h in (9, 14, 18) else 0,
                      "answered_within_target": 4 if h == 14 else 5 if h in (9, 18) else 0,
                      "share_answered_within_target": (0.8 if h == 14 else 1.0)
                      if h in (9, 14, 18) else None,
                      "median_wait_seconds": 70 if h in (9, 14, 18) else None,
                      "p90_wait_seconds": 200 if h in (9, 14, 18) else None, "abandoned": 0}
                     for h in range(24)],
    },
    "sentiment": {"negative": 10, "neutral": 80, "positive": 10, "total": 100},
    "handoff_reasons": [{"reason": "not_understood_twice", "count": 9},
                        {"reason": "complaint", "count": 3}],
    "not_understood": [{"text": "<img src=x onerror=alert(1)>", "count": 4},
                       {"text": "кракозябра", "count": 2}],
    "goodwill": {
        "decisions": 9, "granted": 3, "granted_mb": 300, "pending": 1, "refused": 5,
        "refused_by_rule": [{"rule": "verified_only", "count": 4},
                            {"rule": "daily_budget", "count": 1},
                            {"rule": "<b>new_rule</b>", "count": 0}],
        "used": 2, "used_share": 0.6667, "cost": "0.90", "currency": "BYN",
    },
}
AGENTS = [{"username": "anna", "display_name": "Anna", "role": "agent", "active": True,
           "skills": ["general"], "last_seen_at": None},
          {"username": "boris", "display_name": "Boris", "role": "agent", "active": True,
           "skills": [], "last_seen_at": None}]
SKILLS = {"skills": [{"name": name, "labels": {"ru": ru, "en": en}} for name, ru, en in (
    ("general", "общие", "general"), ("technical", "технические", "technical"),
    ("billing", "расчёты", "billing"))], "topics": {}, "fallback_seconds": 120}


async def test_the_page_draws_each_figure_it_is_given(desk_sqlite: Desk, browser: Any) -> None:
    import json

    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    errors: list[str] = []
    dialogs: list[str] = []
    saved: list[tuple[str, Any]] = []
    context, page = await new_page(browser, accept_downloads=True)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    async def body(route: Any, value: Any) -> None:
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(value))

    async def skills(route: Any) -> None:
        saved.append((route.request.url, route.request.post_data_json))
        await body(route, route.request.post_data_json)

    await page.route("**/api/desk/analytics?*", lambda route: body(route, FIGURES))
    await page.route("**/api/desk/agents", lambda route: body(route, AGENTS))
    await page.route("**/api/desk/skills", lambda route: body(route, SKILLS))
    await page.route("**/api/desk/agents/*/skills", skills)
    await log_in(page, desk.url, "admin", ADMIN_PASSWORD)
    await page.goto(f"{desk.url}/desk/analytics")
    await page.wait_for_selector("body[data-loaded]")

    # service level per day: a bar per day (an empty day a grey stub), coloured against 90%
    chart = page.locator("#chart-service_level")
    await expect(chart.locator("rect.bar")).to_have_count(3)
    await expect(chart.locator('g[data-key="2026-11-29"] rect.bar.good')).to_have_count(1)
    await expect(chart.locator('g[data-key="2026-12-01"] rect.bar.bad')).to_have_count(1)
    await expect(chart.locator('g[data-key="2026-11-30"] rect.bar.none')).to_have_count(1)
    await expect(chart.locator('g[data-key="2026-12-01"] text.value')).to_have_text("60%")
    row = page.locator('#table-service_level tr[data-key="2026-12-01"] td')
    await expect(row).to_have_text(["2026-12-01", "5", "3", "60%", "3:20", "6:40", "1"])
    # the page with these figures (the README's picture when the seeded history is too small)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=str(artifacts / "analytics-drawn.png"))
    # per hour: 24 columns, the hours with nothing left out of the table
    await page.click("#sl-hour")
    await expect(chart.locator("rect.bar")).to_have_count(24)
    await expect(page.locator("#table-service_level tbody tr")).to_have_count(3)
    await expect(chart.locator('g[data-key="14"] text.value')).to_have_text("80%")

    headline = page.locator("#headline")
    for text in ("75%", "86.7%", "1:15", "4.25", "20%", "5%"):
        await expect(headline).to_contain_text(text)
    # a value and, in a smaller tspan, what it is made of
    await expect(page.locator('#chart-containment-channel g[data-key="webchat"] text.value')
                 ).to_have_text("66.7%20 из 30")
    await expect(page.locator('#chart-containment-family g[data-key="roaming"] rect.bar')
                 ).to_have_attribute("data-value", "0.45")
    dist = page.locator("#chart-csat-distribution")
    await expect(dist.locator('g[data-key="5"] text.value')).to_have_text("5 · 62.5%")
    await expect(page.locator('#chart-csat-agent g[data-key="boris"] text.value')
                 ).to_contain_text("3.5")
    await expect(page.locator('#chart-sentiment g[data-key="period"] [data-segment="neutral"]')
                 ).to_have_text("80%")
    await expect(page.locator('#chart-sentiment g[data-key="seed"] [data-segment="negative"]')
                 ).to_have_text("7%")
    await expect(page.locator('#chart-reasons g[data-key="complaint"] text.value')
                 ).to_have_text("3" + "25%")
    await expect(page.locator("#not-understood li").first).to_contain_text(
        "<img src=x onerror=alert(1)>")
    assert await page.locator("img").count() == 0
    # the goodwill panel: the counts, a bar per refusing rule, its CSV link
    await expect(page.locator("#goodwill-big .tile-value")).to_have_text(
        ["3", "1", "5", "2", "0.90 BYN"])
    await expect(page.locator("#goodwill-big")).to_contain_text("300 МБ")
    await expect(page.locator('#chart-goodwill g[data-key="verified_only"] text.value')
                 ).to_have_text("4" + "80%")
    await expect(page.locator('#chart-goodwill g[data-key="verified_only"] text.label')
                 ).to_have_text("не подтверждён")
    await expect(page.locator('#chart-goodwill g[data-key="<b>new_rule</b>"] text.label')
                 ).to_have_text("<b>new_rule</b>")
    await expect(page.locator('#fig-goodwill a.csv')).to_have_attribute(
        "href", re.compile(r"^/api/desk/analytics/goodwill\.csv"))
    links = page.locator("a.csv")
    await expect(links).to_have_count(8)

    # the team: ticking a skill saves the agent's whole list
    await expect(page.locator('#team-table th[data-skill="billing"]')).to_have_text("расчёты")
    box = page.locator('#team-table tr[data-agent="boris"] input[data-skill="technical"]')
    await box.check()
    await expect(page.locator('#team-table tr[data-agent="boris"] .saved')).to_have_text("сохранено")
    assert saved == [(f"{desk.url}/api/desk/agents/boris/skills", {"skills": ["technical"]})]

    await page.click("#lang")
    await expect(page.locator("#chart-reasons")).to_contain_text("complaint")
    await expect(page.locator("#team-table th").first).to_have_text("Agent")
    await expect(page.locator('#team-table th[data-skill="billing"]')).to_have_text("billing")
    assert dialogs == [] and errors == [], (dialogs, errors)
    await context.close()
