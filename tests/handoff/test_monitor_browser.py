"""The supervisors' live monitor in Debian's Chromium (Playwright): a new bot conversation and a
silence alert appear without reloading; the supervisor opens the conversation, joins and
replies, and the subscriber gets it through the web chat; a subscriber's markup is shown as
text; search finds a word in another case form and opens the replay at that message, and pages
with "more"; an agent gets 403.

The app runs with the NLU down (the bot answers a subscriber's first message, a second one it
does not understand escalates) and SILENCE_ALERT_SECONDS=2. A screenshot of the monitor is
saved to test-artifacts/monitor.png (docs/monitor.png, shown in the README, is a copy of one
such run; the test does not touch tracked files).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import create_app
from tests.support.app import new_user
from tests.support.browser import log_in, new_page
from tests.support.desk import ADMIN_PASSWORD, Desk, desk_settings
from tests.support.servers import LiveServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"
# counts the page's beeps (each is one Web Audio oscillator); injected by the test, not the page
COUNT_BEEPS = """
(() => {
  window.__beeps = 0;
  const Context = window.AudioContext;
  if (!Context) return;
  const make = Context.prototype.createOscillator;
  Context.prototype.createOscillator = function () { window.__beeps += 1; return make.call(this); };
})();
"""
# a silence alert needs 2 s of silence and a snapshot (at least every 2 s) to show it
ALERT_WAIT_MS = 20_000


@pytest.fixture
async def desk_sqlite(tmp_path: Path) -> AsyncIterator[Desk]:
    """conftest's desk, with silence alerts after 2 s instead of 120 s."""
    settings = desk_settings(f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}",
                             silence_alert_seconds=2)
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield Desk(server.url, http, app.state.services)


def on_console(message: Any, errors: list[str]) -> None:
    if message.type == "error":  # the pages name an empty icon: no /favicon.ico 404 either
        errors.append(f"console: {message.text} {message.location.get('url', '')}")


async def test_a_supervisor_watches_joins_and_searches_on_the_monitor(
    desk_sqlite: Desk, browser: Any
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        asyncio.ensure_future(dialog.dismiss())

    context, page = await new_page(browser, viewport={"width": 1440, "height": 860})
    await context.add_init_script(COUNT_BEEPS)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: on_console(message, errors))

    # a stranger sent from the monitor to the login page comes back to the monitor
    await page.goto(f"{desk.url}/desk/monitor")
    await expect(page).to_have_url(f"{desk.url}/desk/login?next=/desk/monitor")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("#submit")
    await expect(page).to_have_url(f"{desk.url}/desk/monitor")
    await expect(page.locator("#live")).to_have_class("live on")
    await expect(page.locator(".brand")).to_contain_text("Монитор")
    await expect(page.locator("#no-rows")).to_be_visible()
    await expect(page.locator("#alerts")).to_contain_text("Тревог нет")
    # the sound on (remembered): a beep confirms it
    sound = page.locator("#sound")
    await expect(sound).to_have_attribute("aria-pressed", "false")
    await sound.click()
    await expect(sound).to_have_attribute("aria-pressed", "true")
    await page.wait_for_function("window.__beeps === 1")

    # a new subscriber writes: the bot holds the conversation, and it appears without a reload
    chatty = new_user()
    first = await desk.say(chatty, "Здравствуйте! Как пополнить баланс?")
    bot_row = page.locator(f'#rows tr[data-conversation="{first["conversation_id"]}"]')
    await expect(bot_row).to_contain_text("с ботом")
    await expect(bot_row).to_contain_text("Как пополнить баланс")
    await expect(bot_row.locator("svg.spark-svg")).to_have_count(1)

    # another one is not understood twice and escalates; an agent claims it through the API,
    # the subscriber writes (markup among it) and nobody answers: a silence alert fires
    user = new_user()
    await desk.say(user, "Кракозябра непонятная")
    answer = await desk.say(user, "Опять кракозябра, ничего не понятно")
    conversation = answer["conversation_id"]
    anna = await desk.create_agent("anna")
    claimed = await desk.post(anna, conversation, "claim")
    assert claimed.status_code == 200, claimed.text
    await desk.say(user, "Не работает интернет без роуминга, помогите")
    await desk.say(user, XSS)
    row = page.locator(f'#rows tr[data-conversation="{conversation}"]')
    await expect(row).to_contain_text("у сотрудника")
    await expect(row).to_contain_text("anna")
    await expect(row).to_contain_text(XSS)  # the last lines, as text
    alert = page.locator(f'#alerts li.kind-silence[data-conversation="{conversation}"]')
    await expect(alert).to_be_visible(timeout=ALERT_WAIT_MS)
    await expect(alert).to_contain_text("Долгая тишина")
    await expect(row).to_have_class("mon-row state-with_agent alerted", timeout=ALERT_WAIT_MS)
    await expect(row.locator(".silence-value")).to_have_class("silence-value count-up over")
    await page.wait_for_function("window.__beeps >= 2")  # the new alert beeped

    # open it from the alert: the read-only view, the markup still text
    await alert.click()
    transcript = page.locator("#transcript")
    await expect(page.locator("#pane-status")).to_contain_text("anna")
    await expect(transcript).to_contain_text(XSS)
    await expect(page.locator("#join")).to_be_enabled()
    await expect(page.locator("#reply-form")).to_be_hidden()
    assert await page.locator("img").count() == 0

    # the screenshot for the README: rows, an alert and the open conversation
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=str(artifacts / "monitor.png"))

    # a whisper: for the agent, shown among the notes, never sent to the subscriber
    await page.fill("#whisper", "Проверь настройки APN")
    await page.click("#whisper-send")
    await expect(page.locator("#notes li.whisper")).to_contain_text("Проверь настройки APN")

    # it updates by itself while open
    await desk.say(user, "Есть тут кто-нибудь?")
    await expect(transcript).to_contain_text("Есть тут кто-нибудь?")

    # join and reply: the subscriber is told a senior colleague joined and gets the reply
    await page.click("#join")
    await expect(page.locator("#pane-status")).to_contain_text("старший: admin")
    await expect(page.locator("#reply-form")).to_be_visible()
    await expect(page.locator("#join")).to_be_disabled()
    await page.fill("#reply", "Добрый день! Включите передачу данных в роуминге.")
    await page.click("#send")
    await expect(transcript).to_contain_text("Включите передачу данных")

    async def supervisor_reply() -> list[dict[str, Any]] | None:
        update = await desk.updates(user, answer["cursor"], wait=1)
        texts = " ".join(r["text"] for r in update["replies"])
        return update["replies"] if ("старший специалист" in texts
                                     and "Включите передачу данных" in texts) else None

    replies = await eventually(supervisor_reply)
    assert any(r["sender"] == "agent" and "Включите передачу данных" in r["text"]
               for r in replies), replies
    assert not any("APN" in r["text"] for r in replies), replies
    # answered: the alert closes itself
    await expect(alert).to_have_count(0, timeout=ALERT_WAIT_MS)

    # search: "роуминг" finds "роуминга"; the result opens the replay at that message
    await page.fill("#q", "роуминг")
    await page.click("#search-go")
    result = page.locator(f'#results li.result[data-conversation="{conversation}"]').filter(
        has=page.locator("mark", has_text="роуминга"))
    await expect(result).to_have_count(1)
    await expect(result.locator("mark")).to_have_text("роуминга")
    await result.click()
    await expect(page.locator("#tab-replay")).to_have_class("tab on")
    hit = page.locator("#replay .ev.hit")
    await expect(hit).to_contain_text("Не работает интернет без роуминга")
    await expect(hit).to_be_in_viewport()
    await expect(page.locator("#replay .ev.action").first).to_be_visible()
    await expect(page.locator("#replay .ev.silence.long").first).to_be_visible()
    await expect(page.locator("#replay")).to_contain_text(XSS)
    await expect(page.locator("#replay .ev.act-join")).to_contain_text("admin")

    # the filters restart the stream: only the conversations with an agent, then all again
    await page.select_option("#f-state", "with_agent")
    await expect(bot_row).to_have_count(0)
    await expect(row).to_be_visible()
    await page.select_option("#f-state", "")
    await expect(bot_row).to_be_visible()

    # the English interface; the language and the sound survive a reload
    await page.click("#lang")
    await expect(page.locator(".brand")).to_contain_text("Monitor")
    await expect(page.locator("#join")).to_have_text("Join")
    await expect(bot_row).to_contain_text("with the bot")
    await page.reload()
    await expect(bot_row).to_contain_text("with the bot")
    await expect(sound).to_have_attribute("aria-pressed", "true")

    assert await page.locator("img").count() == 0
    assert dialogs == [], "a subscriber's markup must never run"
    assert errors == [], errors
    await context.close()


async def test_an_agent_gets_403_on_the_monitor(desk_sqlite: Desk, browser: Any) -> None:
    desk = desk_sqlite
    await desk.create_agent("boris")
    context, page = await new_page(browser, viewport={"width": 1440, "height": 860})
    try:
        await log_in(page, desk.url, "boris", "boris-password")
        response = await page.goto(f"{desk.url}/desk/monitor")
        assert response is not None and response.status == 403
        assert "monitor.js" not in await page.content()
    finally:
        await context.close()


async def test_search_results_page_with_more(desk_sqlite: Desk, browser: Any) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    user = new_user()
    for n in range(12):  # the bot answers each: two messages about the balance a time
        await desk.say(user, f"Как проверить баланс? ({n})")
    context, page = await new_page(browser, viewport={"width": 1440, "height": 860})
    try:
        await log_in(page, desk.url, "admin", ADMIN_PASSWORD)
        await page.goto(f"{desk.url}/desk/monitor")
        await page.fill("#q", "балансе")
        await page.press("#q", "Enter")
        results = page.locator("#results li.result")
        await expect(results).to_have_count(20)
        # newest first: the latest question on the first page, the first one only on the next
        await expect(results.filter(has_text="(11)")).to_have_count(1)
        await expect(results.filter(has_text="(0)")).to_have_count(0)
        await expect(page.locator("#more")).to_be_visible()
        await page.click("#more")
        await expect(results).to_have_count(24)
        await expect(results.filter(has_text="(0)")).to_have_count(1)
        await expect(page.locator("#more")).to_be_hidden()
    finally:
        await context.close()
