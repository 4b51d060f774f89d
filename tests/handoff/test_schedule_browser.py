"""The schedule page (/desk/schedule) in Debian's Chromium (Playwright), on each test database
(``desk_app``), with five weeks of handoffs written into the database (so the forecast has a
history and this week has actuals), three agents (one with markup in the display name) and the
admin as supervisor.

The supervisor builds next week: the coverage chart draws a bar per 30-minute interval (336)
with the requirement as a step line, the totals match the API, the shift grid names each agent
as text. An agent offers one of their shifts, a colleague accepts it; the supervisor approves
the swap when coverage would suffer (or sees it approved automatically). An agent asks for time
off over one of their shifts; the supervisor sees its impact and approves it, and the shift is
marked off. The forecast is drawn against the actuals for this week. A stranger is sent to the
login page and back.

The browser runs in the desk's zone (Europe/Minsk), the zone the page's times are shown in. A
screenshot of the supervisor's view (1440 wide, full page) is saved to
test-artifacts/schedule.png (docs/schedule.png, shown in the README, is a copy of one such run;
the test does not touch tracked files).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.messages import utcnow
from bot.storage import Conversation, ConversationState, Customer, Database, Identity
from handoff.tables import Handoff, HandoffStatus
from tests.support.browser import log_in, new_page
from tests.support.desk import ADMIN_PASSWORD, Agent, Desk

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Europe/Minsk")
API = "/api/desk/workforce"
XSS = "<img src=x onerror=alert(1)>"
# handoffs per local hour of every day: a working day's shape, busiest at noon and in the evening
PER_HOUR = {8: 1, 9: 2, 10: 3, 11: 3, 12: 4, 13: 3, 14: 3, 15: 2, 16: 2, 17: 3, 18: 4, 19: 3,
            20: 2, 21: 1}


def watch(page: Any, errors: list[str]) -> None:
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))


async def seed_handoffs(db: Database, *, days: int = 35) -> int:
    """Closed handoffs on every day of the last ``days`` up to now, ``PER_HOUR`` in each local
    hour, each claimed at once and closed after 6 minutes."""
    now = utcnow()
    today = now.astimezone(ZONE).date()
    count = 0
    async with db.transaction() as session:
        customer = Customer(lang="ru")
        session.add(customer)
        await session.flush()
        user = uuid.uuid4().hex
        identity = Identity(customer_id=customer.id, channel="webchat", channel_user_id=user,
                            address=user)
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            id=uuid.uuid4().hex, customer_id=customer.id, identity_id=identity.id,
            channel="webchat", lang="ru", misunderstandings=0, context={},
            state=ConversationState.CLOSED, created_at=now - timedelta(days=days + 1),
            updated_at=now)
        session.add(conversation)
        await session.flush()
        for back in range(days, -1, -1):
            day: date = today - timedelta(days=back)
            for hour, n in PER_HOUR.items():
                for k in range(n):
                    at = datetime.combine(day, time(hour, k * 60 // n), ZONE).astimezone(UTC)
                    if at >= now - timedelta(minutes=10):
                        continue
                    session.add(Handoff(
                        conversation_id=conversation.id, status=HandoffStatus.CLOSED,
                        reason="subscriber_request", channel="webchat", lang="ru", card={},
                        created_at=at, claimed_at=at + timedelta(seconds=20),
                        first_reply_at=at + timedelta(seconds=30), wait_seconds=30.0,
                        ended_at=at + timedelta(minutes=6), resolution="done"))
                    count += 1
    return count


def local_input(iso: str) -> str:
    """An API time as a datetime-local input's value in the desk's zone."""
    return datetime.fromisoformat(iso).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


async def get(desk: Desk, who: Agent, path: str) -> Any:
    response = await desk.http.get(f"{API}{path}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def pending_swap_and_time_off(desk: Desk, tokens: dict[str, Agent], offerer: str,
                                    taker: str, week: str) -> None:
    """Through the API: ``offerer`` offers next week's shifts until ``taker`` can accept one
    (left waiting when coverage suffers), and the third agent asks for a day off."""
    shifts = (await get(desk, tokens[offerer], f"/shifts/mine?week={week}"))["shifts"]
    theirs = (await get(desk, tokens[taker], f"/shifts/mine?week={week}"))["shifts"]

    def overlaps(shift: dict[str, Any]) -> bool:  # the taker's own shift then goes unworked
        return any(o["starts_at"] < shift["ends_at"] and shift["starts_at"] < o["ends_at"]
                   for o in theirs if o["status"] == "scheduled")

    for shift in sorted(shifts, key=lambda s: (overlaps(s), s["starts_at"]), reverse=True):
        if shift["status"] != "scheduled":
            continue
        offered = await desk.http.post(f"{API}/swaps", json={"shift_id": shift["id"]},
                                       headers=tokens[offerer].headers)
        assert offered.status_code == 201, offered.text
        accepted = await desk.http.post(f"{API}/swaps/{offered.json()['id']}/accept",
                                        json={"give_shift_id": None},
                                        headers=tokens[taker].headers)
        if accepted.status_code == 200:
            break
        assert accepted.status_code == 409, accepted.text
        cancel = await desk.http.post(f"{API}/swaps/{offered.json()['id']}/cancel",
                                      headers=tokens[offerer].headers)
        assert cancel.status_code == 200, cancel.text
    third = next(u for u in tokens if u not in (offerer, taker))
    theirs = (await get(desk, tokens[third], f"/shifts/mine?week={week}"))["shifts"]
    first = min(theirs, key=lambda s: s["starts_at"]) if theirs else None
    start = (datetime.fromisoformat(first["starts_at"]) if first
             else datetime.combine(date.fromisoformat(week), time(9), ZONE))
    asked = await desk.http.post(f"{API}/time-off", json={
        "from": start.isoformat(), "to": (start + timedelta(hours=8)).isoformat(),
        "reason": "семейные обстоятельства"}, headers=tokens[third].headers)
    assert asked.status_code == 201, asked.text


async def test_a_week_is_built_swapped_and_given_time_off_on_the_schedule_page(
    desk_app: Desk, browser: Any
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=20_000)
    desk = desk_app
    assert await seed_handoffs(desk.services.db) > 500
    agents = {"anna": "Anna", "boris": "Boris", "vera": f"Vera {XSS}"}
    for username, name in agents.items():
        await desk.module.accounts.create(username, f"{username}-password", role="agent",
                                          display_name=name)
    admin = await desk.admin()
    tokens = {u: await desk.login(u, f"{u}-password") for u in agents}
    errors: list[str] = []

    # -- the supervisor builds next week -----------------------------------------------------
    sv_context, sv = await new_page(browser, timezone_id="Europe/Minsk")
    watch(sv, errors)
    await sv.goto(f"{desk.url}/desk/schedule")
    await expect(sv).to_have_url(f"{desk.url}/desk/login?next=/desk/schedule")
    await log_in(sv, desk.url, "admin", ADMIN_PASSWORD)
    await expect(sv.locator("#schedule-link")).to_have_attribute("href", "/desk/schedule")
    page = await sv.goto(f"{desk.url}/desk/schedule")
    assert page is not None and page.status == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    await expect(sv.locator("body[data-role=supervisor][data-loaded]")).to_have_count(1)
    assert await sv.text_content("#error") == ""
    await expect(sv.locator("#agent")).to_be_hidden()
    loaded = await sv.get_attribute("body", "data-loaded")
    await sv.click("#week-next")
    await expect(sv.locator(f"body:not([data-loaded='{loaded}'])")).to_have_count(1)
    today = utcnow().astimezone(ZONE).date()
    week = (today - timedelta(days=today.weekday()) + timedelta(days=7)).isoformat()
    await expect(sv.locator("#sv-empty")).to_have_text(
        "На эту неделю расписания ещё нет — постройте его.")
    await expect(sv.locator("#shift-grid")).to_contain_text("постройте его")
    await sv.click("#build")
    await expect(sv.locator("#progress")).to_contain_text("Готово")
    await expect(sv.locator("body[data-built]")).to_have_count(1)
    assert await sv.text_content("#error") == ""
    schedule = await get(desk, admin, f"/schedule?week={week}")
    assert schedule["published_at"] and schedule["shifts"], schedule
    # coverage: a bar per interval, the requirement a step line, a red gap where it falls short
    chart = sv.locator("#chart-coverage")
    await expect(chart.locator("rect.bar.scheduled")).to_have_count(336)
    await expect(chart.locator("path.line.required")).to_have_count(1)
    await expect(chart.locator("text.day-label")).to_have_count(7)
    short = sum(1 for i in schedule["intervals"] if i["scheduled"] < i["required"])
    await expect(chart.locator("rect.gap")).to_have_count(short)
    busiest = max(range(336), key=lambda i: schedule["intervals"][i]["scheduled"])
    await expect(chart.locator(f'rect.bar[data-index="{busiest}"]')).to_have_attribute(
        "data-value", str(schedule["intervals"][busiest]["scheduled"]))
    await expect(sv.locator("#sv-empty")).to_be_hidden()
    hours = schedule["agent_hours"]
    await expect(sv.locator("#totals .tile").first).to_contain_text(f"{round(hours, 1):g}")
    await expect(sv.locator("#totals")).to_contain_text(f"{len(schedule['shifts'])}")
    # the shift grid: a row per agent with shifts, names as text
    working = sorted({s["agent"] for s in schedule["shifts"]})
    assert len(working) >= 2, schedule["shifts"]
    await expect(sv.locator("#shift-grid tbody tr")).to_have_count(len(working))
    await expect(sv.locator("#shift-grid .shift")).to_have_count(len(schedule["shifts"]))
    if "vera" in working:
        await expect(sv.locator('#shift-grid tr[data-agent="vera"] .agent-name')).to_have_text(
            agents["vera"])
    # the forecast for next week: a line, no actuals yet
    await expect(sv.locator("#chart-forecast path.line.forecast")).to_have_count(1)
    await expect(sv.locator("#chart-forecast rect.bar.actual")).to_have_count(0)

    # -- an agent offers a shift, a colleague accepts it --------------------------------------
    offerer = working[0]
    taker = next(u for u in working if u != offerer)
    mine = await get(desk, tokens[offerer], f"/shifts/mine?week={week}")
    offered = min(mine["shifts"], key=lambda s: s["starts_at"])
    ag_context, ag = await new_page(browser, timezone_id="Europe/Minsk")
    watch(ag, errors)
    await log_in(ag, desk.url, offerer, f"{offerer}-password")
    await ag.goto(f"{desk.url}/desk/schedule")
    await expect(ag.locator("body[data-role=agent][data-loaded]")).to_have_count(1)
    await expect(ag.locator("#supervisor")).to_be_hidden()
    await expect(ag.locator("#build")).to_be_hidden()
    await ag.click("#week-next")
    card = ag.locator(f'#my-shifts li[data-shift="{offered["id"]}"]')
    await expect(ag.locator("#my-shifts li.my-shift")).to_have_count(len(mine["shifts"]))
    await expect(card).to_contain_text(offered["shift"])
    await card.locator("button.offer").click()
    await expect(card.locator(".offered")).to_contain_text("вы отдаёте эту смену")
    swaps = (await get(desk, tokens[offerer], "/swaps"))["items"]
    swap = next(s for s in swaps if s["shift"]["id"] == offered["id"])
    assert swap["status"] == "offered" and swap["offered_by"] == offerer

    tk_context, tk = await new_page(browser, timezone_id="Europe/Minsk")
    watch(tk, errors)
    await log_in(tk, desk.url, taker, f"{taker}-password")
    await tk.goto(f"{desk.url}/desk/schedule")
    await expect(tk.locator("body[data-role=agent][data-loaded]")).to_have_count(1)
    offer = tk.locator(f'#offers li[data-swap="{swap["id"]}"]')
    await expect(offer).to_contain_text(agents[offerer])
    await offer.locator("button.accept").click()
    await expect(tk.locator("#offers .note-line")).to_have_count(1)
    assert await tk.text_content("#error") == ""
    swap = next(s for s in (await get(desk, admin, "/swaps"))["items"] if s["id"] == swap["id"])
    assert swap["accepted_by"] == taker, swap

    # -- the supervisor decides the swap ------------------------------------------------------
    await sv.click("#week-this")
    await sv.click("#week-next")
    row = sv.locator(f'#swaps li[data-swap="{swap["id"]}"]')
    if swap["status"] == "accepted":  # coverage would suffer: the supervisor's call
        assert swap["coverage_ok"] is False and swap["impact"], swap
        await expect(tk.locator("#offers .note-line")).to_contain_text("ждёт решения старшего")
        await expect(row).to_have_attribute("data-status", "accepted")
        await expect(row.locator(".impact li").first).to_contain_text("нужно")
        await row.locator("button.approve").click()
        await expect(row).to_have_attribute("data-status", "approved")
        await expect(row).to_contain_text("решение: admin")
    else:
        assert swap["status"] == "approved" and swap["decided_by"] == "automatic", swap
        await expect(tk.locator("#offers .note-line")).to_contain_text("автоматически")
        await expect(row).to_contain_text("одобрено автоматически")
    now_taker = (await get(desk, tokens[taker], f"/shifts/mine?week={week}"))["shifts"]
    # the taker works the offered hours now; the offerer's shift is marked given away
    same = (offered["shift"], offered["starts_at"], offered["ends_at"])
    assert same in {(s["shift"], s["starts_at"], s["ends_at"]) for s in now_taker
                    if s["status"] == "scheduled"}, now_taker
    given = (await get(desk, tokens[offerer], f"/shifts/mine?week={week}"))["shifts"]
    assert next(s for s in given if s["id"] == offered["id"])["status"] == "swapped"

    # -- time off: asked on the page, its impact shown to the supervisor, approved -----------
    asker = taker
    target = max((s for s in now_taker if s["status"] == "scheduled"),
                 key=lambda s: s["starts_at"])
    await tk.click("#week-next")
    await tk.fill("#to-from", local_input(target["starts_at"]))
    await tk.fill("#to-to", local_input(target["ends_at"]))
    await tk.fill("#to-reason", f"к врачу {XSS}")
    await tk.click("#to-submit")
    request = tk.locator("#my-timeoff li.timeoff").first
    await expect(request).to_have_attribute("data-status", "requested")
    await expect(request.locator(".reason")).to_contain_text(XSS)
    assert await tk.text_content("#timeoff-error") == ""
    item = (await get(desk, admin, "/time-off"))["items"][0]
    assert item["agent"] == asker and item["impact"]["shifts"] >= 1, item
    await sv.click("#week-this")
    await sv.click("#week-next")
    card = sv.locator(f'#timeoff li[data-timeoff="{item["id"]}"]')
    await expect(card.locator(".impact-head")).to_contain_text(
        f"затрагивает смен: {item['impact']['shifts']}")
    if item["impact"]["short"]:
        await expect(card.locator(".impact li").first).to_contain_text("нужно")
    await card.locator("button.approve").click()
    await expect(card).to_have_attribute("data-status", "approved")
    await expect(sv.locator(f'#shift-grid .shift[data-shift="{target["id"]}"]')).to_have_class(
        "shift st-off")
    await expect(sv.locator("#swaps")).to_contain_text(agents[offerer])

    # -- this week: the forecast against the actuals, and the screenshot ---------------------
    await sv.click("#week-this")
    await expect(sv.locator("#week-label")).to_contain_text(
        (today - timedelta(days=today.weekday())).strftime("%d.%m"))
    await expect(sv.locator("#chart-forecast path.line.forecast")).to_have_count(1)
    before = await get(desk, admin, "/forecast?weeks=1")
    actuals = sv.locator("#chart-forecast rect.bar.actual")
    if any(p["actual"] is not None for p in before["points"]):  # not in the week's first minutes
        await expect(actuals.first).to_be_attached()
    drawn = await actuals.count()
    after = await get(desk, admin, "/forecast?weeks=1")
    # an interval may end between the two looks
    over = [sum(p["actual"] is not None for p in f["points"]) for f in (before, after)]
    assert over[0] - 1 <= drawn <= over[1] + 1, (drawn, over)
    await expect(sv.locator("#forecast-totals")).to_contain_text("обращений на деле")
    await sv.click("#build")
    await expect(sv.locator("body[data-built='2']")).to_have_count(1)
    # for the picture: a swap and a time off waiting for the supervisor, with their impact
    await pending_swap_and_time_off(desk, tokens, offerer, taker, week)
    await sv.click("#week-next")
    await sv.click("#week-this")
    await expect(sv.locator("#timeoff li[data-status=requested] button.approve")).to_have_count(1)
    await expect(sv.locator("#chart-coverage rect.bar.scheduled")).to_have_count(336)
    assert await sv.locator("img").count() == 0
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await sv.screenshot(path=str(artifacts / "schedule.png"), full_page=True)

    # English, remembered over a reload
    await sv.click("#lang")
    await expect(sv.locator(".brand")).to_contain_text("Schedule")
    await expect(sv.locator("#fig-coverage h2")).to_have_text("Coverage against requirement")
    await sv.reload()
    await expect(sv.locator("#build")).to_have_text("Rebuild schedule")

    assert errors == [], errors
    for context in (sv_context, ag_context, tk_context):
        await context.close()
